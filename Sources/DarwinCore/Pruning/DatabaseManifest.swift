/// The JSON manifest of a compression database directory (`manifest.json`).
public struct DatabaseManifest: Codable {
    /// One stored variant of one unit.
    public struct Entry: Codable {
        /// Level number (0 = dense).
        public var level: Int
        /// Structures removed (query heads or neurons).
        public var removed: Int
        /// Parameters of the unit at this level (0 when removed entirely).
        public var params: Int
        /// File holding the kept structures and updated output weights (nil at level 0, the dense unit, and when
        /// the unit is removed entirely).
        public var file: String?
        /// Size and CRC-32 of that file.
        public var bytes: Int
        public var crc32: UInt32
    }

    /// The entries of one finished block.
    public struct Block: Codable {
        public var index: Int
        public var attention: [Entry]
        public var mlp: [Entry]
        /// Wall time spent on the block.
        public var seconds: Double
    }

    public var format = "darwinhost-compression-database"
    /// Version 2 stores per level only the kept structures and the updated `o_proj` / `down_proj` columns.
    public var version = DatabaseManifest.currentVersion
    public static let currentVersion = 2
    /// CRC-32 of the dense model's configuration and weights (hex).
    public var modelFingerprint: String
    public var modelSource: String
    public var relDamp: Double
    /// Calibration: number of sequences, their length, and a CRC-32 of the token ids.
    public var calibrationSequences: Int
    public var calibrationLength: Int
    public var calibrationFingerprint: String
    /// Structures removed at each level, per kind (`levels.attention[k]` heads removed at level k).
    public var attentionLevels: [Int]
    public var mlpLevels: [Int]
    /// Query heads and MLP neurons of each dense block.
    public var attentionStructures: Int
    public var mlpStructures: Int
    /// Finished blocks, in order.
    public var blocks: [Block]
    /// Number of blocks of the model.
    public var blockCount: Int

    /// True when every block is finished.
    public var isComplete: Bool { blocks.count == blockCount }

    /// The first setting that makes `other` a different database (model, calibration, levels, damping, block
    /// count), or nil when its blocks can join this one's.
    func differingSetting(from other: DatabaseManifest) -> String? {
        let checks: [(String, Bool)] = [
            ("model fingerprint", modelFingerprint == other.modelFingerprint),
            ("calibration data", calibrationFingerprint == other.calibrationFingerprint && calibrationLength == other.calibrationLength),
            ("levels", attentionLevels == other.attentionLevels && mlpLevels == other.mlpLevels),
            ("rel_damp", relDamp == other.relDamp), ("block count", blockCount == other.blockCount),
        ]
        return checks.first(where: { !$0.1 })?.0
    }
}

/// Default levels: equal steps from 0 to all `structures` removed, so every step removes the same number of
/// parameters (the reference's `cols_removed_*`). The step count is the divisor of `structures` nearest to
/// `steps` (within half to twice it); without one, steps are as equal as rounding allows.
public enum PruningLevels {
    public static func evenlySpaced(structures: Int, steps: Int) -> [Int] {
        let divisors = (1...max(1, structures)).filter { structures % $0 == 0 && 2 * $0 >= steps && $0 <= 2 * steps }
        let n = divisors.min { abs($0 - steps) < abs($1 - steps) } ?? max(1, min(steps, structures))
        return Array(Set((0...n).map { Int((Double($0) * Double(structures) / Double(n)).rounded()) })).sorted()
    }
}
