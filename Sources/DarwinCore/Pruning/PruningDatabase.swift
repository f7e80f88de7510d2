import Foundation

/// A compression level for every unit: `attention[i]` and `mlp[i]` are level numbers (0 = dense) of block i.
public struct Genome: Equatable, Hashable {
    public var attention: [Int]
    public var mlp: [Int]
    public init(attention: [Int], mlp: [Int]) { self.attention = attention; self.mlp = mlp }
}

/// The two kinds of prunable unit in a block.
public enum UnitKind: String, CaseIterable { case attention, mlp }

/// A compression database directory: per block, kind and level, the compact weights of the pruned unit.
/// Entries are loaded on demand (memory-mapped) and verified against their checksum the first time.
public final class PruningDatabase {
    /// The directory.
    public let path: String
    /// Its manifest.
    public private(set) var manifest: DatabaseManifest
    private var verified: Set<String> = []

    static let manifestName = "manifest.json"

    /// Opens the database at `path`; errors name the file and what is wrong.
    public init(path: String) throws {
        self.path = path
        let file = path + "/" + PruningDatabase.manifestName
        guard let data = FileManager.default.contents(atPath: file) else {
            throw FormatError(file: path, "not a compression database: \(PruningDatabase.manifestName) is missing")
        }
        do { manifest = try JSONDecoder().decode(DatabaseManifest.self, from: data) } catch {
            throw FormatError(file: file, "manifest is not a darwinhost database manifest (\(error))")
        }
        guard manifest.format == "darwinhost-compression-database", manifest.version == DatabaseManifest.currentVersion else {
            throw FormatError(file: file, "format \(manifest.format) version \(manifest.version) is not supported (this darwinhost reads version \(DatabaseManifest.currentVersion)); build the database again")
        }
    }

    init(path: String, manifest: DatabaseManifest) {
        self.path = path
        self.manifest = manifest
    }

    /// Level lists (structures removed at each level) of a kind.
    public func levels(_ kind: UnitKind) -> [Int] { kind == .attention ? manifest.attentionLevels : manifest.mlpLevels }

    /// The manifest entry of a unit at a level.
    public func entry(block: Int, kind: UnitKind, level: Int) throws -> DatabaseManifest.Entry {
        guard block >= 0 && block < manifest.blocks.count else {
            throw TensorError("database: block \(block + 1) is not in the database (\(manifest.blocks.count) of \(manifest.blockCount) blocks built)")
        }
        let list = kind == .attention ? manifest.blocks[block].attention : manifest.blocks[block].mlp
        guard let e = list.first(where: { $0.level == level }) else {
            throw TensorError("database: level \(level) of \(kind.rawValue) is outside 0...\(levels(kind).count - 1)")
        }
        return e
    }

    /// Parameters of a unit at a level.
    public func params(block: Int, kind: UnitKind, level: Int) throws -> Int { try entry(block: block, kind: kind, level: level).params }

    /// Parameters of the blocks' prunable units under `genome`.
    public func params(_ genome: Genome) throws -> Int {
        try genome.attention.indices.map { try params(block: $0, kind: .attention, level: genome.attention[$0]) }.reduce(0, +)
            + genome.mlp.indices.map { try params(block: $0, kind: .mlp, level: genome.mlp[$0]) }.reduce(0, +)
    }

    /// Opens an entry's file, checking its size and checksum the first time; nil for the dense level and for a
    /// unit removed entirely.
    private func file(_ e: DatabaseManifest.Entry) throws -> SafeTensorsFile? {
        guard let name = e.file else { return nil }
        let full = path + "/" + name
        if !verified.contains(name) {
            guard let data = FileManager.default.contents(atPath: full) else { throw FormatError(file: full, "database entry file is missing") }
            let crc = data.withUnsafeBytes { checksum($0) }
            guard data.count == e.bytes, crc == e.crc32 else {
                throw FormatError(file: full, "database entry is corrupt: \(data.count) bytes with CRC-32 \(crc), the manifest says \(e.bytes) bytes with CRC-32 \(e.crc32)")
            }
            verified.insert(name)
        }
        return try SafeTensorsFile(path: full)
    }

    /// The kept structures recorded in an entry file's metadata, checked against the unit's structure count.
    private func kept(_ f: SafeTensorsFile, structures: Int) throws -> [Int] {
        let fields = (f.metadata["kept"] ?? "").split(separator: ",")
        let kept = fields.compactMap { Int($0) }
        guard !kept.isEmpty, kept.count == fields.count, kept == kept.sorted(), Set(kept).count == kept.count,
              kept.first! >= 0, kept.last! < structures else {
            throw FormatError(file: f.path, "metadata 'kept' must list distinct ascending indices in 0..<\(structures)")
        }
        return kept
    }

    /// Indices (0-based) of the query heads or neurons a unit keeps at a level.
    public func kept(block: Int, kind: UnitKind, level: Int) throws -> [Int] {
        let e = try entry(block: block, kind: kind, level: level)
        let structures = kind == .attention ? manifest.attentionStructures : manifest.mlpStructures
        guard let f = try file(e) else { return e.removed == 0 ? Array(0..<structures) : [] }
        return try kept(f, structures: structures)
    }

    /// The attention of a block at a level, built from the block's dense attention `dense`: its rows for the
    /// kept heads and the stored OBS-updated `o_proj` columns (nil: removed entirely; `dense` itself at level 0).
    public func attention(block: Int, level: Int, dense: AttentionWeights) throws -> AttentionWeights? {
        let e = try entry(block: block, kind: .attention, level: level)
        guard let f = try file(e) else { return e.removed == 0 ? dense : nil }
        guard let pruned = try dense.keeping(queryHeads: try kept(f, structures: dense.queryHeads)) else { return nil }
        pruned.o = try storedWeight(f, shape: pruned.o.shape)
        return pruned
    }

    /// The MLP of a block at a level, built from the block's dense MLP `dense` like `attention(block:level:dense:)`.
    public func mlp(block: Int, level: Int, dense: MLPWeights) throws -> MLPWeights? {
        let e = try entry(block: block, kind: .mlp, level: level)
        guard let f = try file(e) else { return e.removed == 0 ? dense : nil }
        guard let pruned = try dense.keeping(neurons: try kept(f, structures: dense.width), copyingDown: false) else { return nil }
        pruned.down = try storedWeight(f, shape: [dense.down.shape[0], pruned.width])
        return pruned
    }

    private func storedWeight(_ f: SafeTensorsFile, shape: [Int]) throws -> Weight {
        guard f.entries["weight"]?.shape == shape else {
            throw FormatError(file: f.path, "tensor 'weight' has shape \(TensorError.show(f.entries["weight"]?.shape ?? [])), expected \(TensorError.show(shape))")
        }
        return try f.weight("weight")
    }
}

extension LanguageModel {
    /// Stitches `genome` from `database` into this model: only units whose level changed are loaded.
    public func apply(_ database: PruningDatabase, _ genome: Genome) throws {
        guard database.manifest.modelFingerprint == fingerprint else {
            throw TensorError("apply: the database at \(database.path) was built for model \(database.manifest.modelFingerprint) (\(database.manifest.modelSource)), this model is \(fingerprint)")
        }
        guard database.manifest.isComplete else {
            throw TensorError("apply: the database at \(database.path) is incomplete (\(database.manifest.blocks.count) of \(database.manifest.blockCount) blocks); resume its build first")
        }
        guard genome.attention.count == blocks.count, genome.mlp.count == blocks.count else {
            throw TensorError("apply: the genome has \(genome.attention.count) attention and \(genome.mlp.count) MLP levels, the model \(blocks.count) blocks")
        }
        for kind in UnitKind.allCases {
            let levels = kind == .attention ? genome.attention : genome.mlp
            if let bad = levels.firstIndex(where: { $0 < 0 || $0 >= database.levels(kind).count }) {
                throw TensorError("apply: \(kind.rawValue) level \(levels[bad]) of block \(bad + 1) is outside 0...\(database.levels(kind).count - 1)")
            }
        }
        let current = self.genome
        if current == nil {
            guard blocks.allSatisfy({ $0.attention?.queryHeads == config.headCount && $0.mlp?.width == config.intermediateSize }) else {
                throw TensorError("apply: the model must be the dense model the database was built from (or made from it by apply), not one pruned otherwise")
            }
            denseUnits = blocks.map { ($0.attention, $0.mlp) }
        }
        guard let dense = denseUnits else { throw TensorError("apply: the model's dense weights are not known") }
        for i in blocks.indices {
            if current?.attention[i] != genome.attention[i] {
                blocks[i].attention = try database.attention(block: i, level: genome.attention[i], dense: dense[i].attention!)
            }
            if current?.mlp[i] != genome.mlp[i] { blocks[i].mlp = try database.mlp(block: i, level: genome.mlp[i], dense: dense[i].mlp!) }
        }
        self.genome = genome
    }
}
