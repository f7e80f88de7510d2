import Foundation

/// Builds a compression database: block by block, the calibration activations are fed through the dense model,
/// the Hessians of the `o_proj` and `down_proj` inputs are accumulated, heads and neurons are pruned greedily
/// with structured OBS, and every level's compact weights are written. Each finished block is recorded in the
/// manifest (atomically), so an interrupted build resumes at the next unfinished block.
public struct DatabaseBuilder {
    public var attentionLevels: [Int]
    public var mlpLevels: [Int]
    public var relDamp = 0.01
    /// Stop after this many newly built blocks (for tests of resumption); nil builds everything.
    public var maxNewBlocks: Int?
    /// Shows the build's progress in blocks (nil: quiet).
    public var progress: ProgressLine?
    /// In a job of `size` processes sharing one directory, this one (`rank`) prunes the blocks `i % size == rank`
    /// and records them in its part of the manifest (`parts/rank-R.json`); `DatabaseBuilder.mergeParts` then writes
    /// the whole manifest. Every process still feeds the calibration through every dense block, so each block sees
    /// exactly the inputs of a single-process build. nil: one process builds everything.
    public var share: (rank: Int, size: Int)?
    /// The folder of the manifest parts of a shared build.
    public static let partsFolder = "parts"

    /// Default levels for `model`: `steps` equal steps per kind.
    public init(model: LanguageModel, steps: Int = 10) {
        attentionLevels = PruningLevels.evenlySpaced(structures: model.config.headCount, steps: steps)
        mlpLevels = PruningLevels.evenlySpaced(structures: model.config.intermediateSize, steps: steps)
    }

    /// Builds (or resumes) the database for `model` on `calibration` at `path`.
    public func build(model: LanguageModel, calibration: [[Int32]], path: String) throws -> PruningDatabase {
        guard share == nil else { throw TensorError("database: a shared build makes parts (buildShare), not a database") }
        return PruningDatabase(path: path, manifest: try construct(model: model, calibration: calibration, path: path))
    }

    /// This process's blocks of a shared build (`share`), recorded in its manifest part; `mergeParts` joins them.
    public func buildShare(model: LanguageModel, calibration: [[Int32]], path: String) throws {
        guard share != nil else { throw TensorError("database: buildShare needs share = (rank, size)") }
        _ = try construct(model: model, calibration: calibration, path: path)
    }

    /// The build itself: returns the manifest (of a whole build, or without this process's shared blocks).
    private func construct(model: LanguageModel, calibration: [[Int32]], path: String) throws -> DatabaseManifest {
        guard model.genome == nil, model.blocks.allSatisfy({ $0.attention?.queryHeads == model.config.headCount && $0.mlp?.width == model.config.intermediateSize }) else {
            throw TensorError("database: the model must be dense (as loaded), not pruned")
        }
        guard let seq = calibration.first?.count, calibration.allSatisfy({ $0.count == seq }), seq > 0 else {
            throw TensorError("database: calibration needs equal-length, non-empty sequences")
        }
        for (name, levels, limit) in [("attention", attentionLevels, model.config.headCount), ("mlp", mlpLevels, model.config.intermediateSize)] {
            guard levels.first == 0, levels == levels.sorted(), Set(levels).count == levels.count, levels.last! <= limit else {
                throw TensorError("database: \(name) levels \(levels) must start at 0, increase, and stay within 0...\(limit)")
            }
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // One build per directory at a time: a second one (another calibration, another model) would interleave its
        // blocks with the first's. The ranks of a shared build write parts of their own and are not locked out.
        let lock = share == nil ? try DirectoryLock(directory: path, name: ".database.lock") : nil
        defer { lock?.release() }
        var manifest = DatabaseManifest(
            modelFingerprint: model.fingerprint, modelSource: model.source ?? "(memory)", relDamp: relDamp,
            calibrationSequences: calibration.count, calibrationLength: seq, calibrationFingerprint: tokensFingerprint(calibration),
            attentionLevels: attentionLevels, mlpLevels: mlpLevels, attentionStructures: model.config.headCount,
            mlpStructures: model.config.intermediateSize, blocks: [], blockCount: model.blocks.count)
        // A manifest that cannot be read is an error, not a reason to build over it.
        let existingManifest = FileManager.default.fileExists(atPath: path + "/" + PruningDatabase.manifestName)
        if existingManifest {
            let existing = try PruningDatabase(path: path)
            try checkResumable(existing.manifest, manifest, path: path)
            manifest.blocks = existing.manifest.blocks
            if manifest.blocks.count >= model.blocks.count {
                progress?.message("database: complete in \(path) (\(model.blocks.count) blocks), reused")
            } else if !manifest.blocks.isEmpty {
                progress?.message("database: resuming at block \(manifest.blocks.count + 1) of \(model.blocks.count)")
            }
            progress?.baseline = Double(min(manifest.blocks.count, model.blocks.count))
            progress?.update(progress?.baseline ?? 0)
        }
        if share == nil && !existingManifest {
            // Recorded before the first block, so that a later build with other settings is refused from the start.
            try AtomicFile.write(try JSONEncoder.pretty.encode(manifest), to: path + "/" + PruningDatabase.manifestName)
        }
        // Blocks already built (by any process of a shared build, in any earlier job), and this process's own.
        var done = Set(manifest.blocks.map(\.index)), mine: [DatabaseManifest.Block] = []
        let ownPart = share.map { path + "/\(DatabaseBuilder.partsFolder)/rank-\($0.rank).json" }
        if share != nil {
            for (file, part) in try DatabaseBuilder.parts(path) {
                try checkResumable(part, manifest, path: file)
                done.formUnion(part.blocks.map(\.index))
                if file == ownPart { mine = part.blocks }
            }
            try FileManager.default.createDirectory(atPath: path + "/" + DatabaseBuilder.partsFolder, withIntermediateDirectories: true)
        }
        var x = try model.embed(Array(calibration.joined()))
        let rope = model.ropeTables(length: seq)
        var built = 0
        for (i, block) in model.blocks.enumerated() {
            if done.contains(i) || share.map({ i % $0.size != $0.rank }) == true {
                try model.runBlock(block, &x, batch: calibration.count, seq: seq, rope: rope)
                continue
            }
            if let limit = maxNewBlocks, built >= limit { break }
            let start = Date()
            let attentionH = HessianAccumulator(dimension: block.attention!.q.shape[0])
            let mlpH = HessianAccumulator(dimension: block.mlp!.width)
            try model.runBlock(block, &x, batch: calibration.count, seq: seq, rope: rope) { input in
                switch input {
                case .attentionOutput(let t): try attentionH.add(t)
                case .mlpDown(let t): try mlpH.add(t)
                }
            }
            let attention = try pruneAttention(block.attention!, attentionH.hessian, block: i, path: path, headDim: model.config.headDim,
                                               precision: model.storagePrecision)
            let mlp = try pruneMLP(block.mlp!, mlpH.hessian, block: i, path: path, precision: model.storagePrecision)
            let finished = DatabaseManifest.Block(index: i, attention: attention, mlp: mlp, seconds: Date().timeIntervalSince(start))
            if let ownPart {
                mine.append(finished)
                var part = manifest
                part.blocks = mine
                try AtomicFile.write(try JSONEncoder.pretty.encode(part), to: ownPart)
            } else {
                manifest.blocks.append(finished)
                try AtomicFile.write(try JSONEncoder.pretty.encode(manifest), to: path + "/" + PruningDatabase.manifestName)
            }
            built += 1
            progress?.message("database: block \(i + 1)/\(model.blocks.count) pruned in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
            progress?.update(Double(i + 1))
        }
        progress?.finish()
        return manifest
    }

    /// The manifest parts of a shared build at `path`: (file, part).
    static func parts(_ path: String) throws -> [(String, DatabaseManifest)] {
        let folder = path + "/" + partsFolder
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { name in
            let file = folder + "/" + name
            guard let data = FileManager.default.contents(atPath: file) else { throw FormatError(file: file, "cannot read") }
            do { return (file, try JSONDecoder().decode(DatabaseManifest.self, from: data)) } catch {
                throw FormatError(file: file, "not a database manifest part: \(error)")
            }
        }
    }

    /// Joins the parts of a shared build (and any finished manifest) into the manifest at `path`, once every block
    /// is in one of them, then removes the parts.
    public static func mergeParts(path: String) throws -> PruningDatabase {
        let parts = try DatabaseBuilder.parts(path)
        let existing = try? PruningDatabase(path: path)
        guard var merged = existing?.manifest ?? parts.first?.1 else {
            throw FormatError(file: path, "no database manifest and no parts to merge")
        }
        var blocks = Dictionary(merged.blocks.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        for (file, part) in parts {
            if let mismatch = part.differingSetting(from: merged) {
                throw FormatError(file: file, "was built with a different \(mismatch) than the database it joins")
            }
            for b in part.blocks where blocks[b.index] == nil { blocks[b.index] = b }
        }
        if let missing = (0..<merged.blockCount).first(where: { blocks[$0] == nil }) {
            throw FormatError(file: path, "cannot merge the database: block \(missing + 1) of \(merged.blockCount) is in no part (a process did not finish)")
        }
        merged.blocks = (0..<merged.blockCount).map { blocks[$0]! }
        try AtomicFile.write(try JSONEncoder.pretty.encode(merged), to: path + "/" + PruningDatabase.manifestName)
        try? FileManager.default.removeItem(atPath: path + "/" + partsFolder)
        return PruningDatabase(path: path, manifest: merged)
    }

    /// An existing manifest at the path must describe the same model, calibration and settings.
    func checkResumable(_ old: DatabaseManifest, _ new: DatabaseManifest, path: String) throws {
        if let mismatch = old.differingSetting(from: new) {
            throw FormatError(file: path, "a database built with a different \(mismatch) is already there; choose another path or delete it")
        }
    }

    private func pruneAttention(_ a: AttentionWeights, _ h: Tensor, block: Int, path: String, headDim: Int,
                                precision: SafeTensorsWriter.Precision) throws -> [DatabaseManifest.Entry] {
        let (snapshots, _) = try StructuredOBS.prune(weight: a.o.floatValues(), hessian: h, groupSize: headDim, levels: attentionLevels, relDamp: relDamp)
        return try snapshots.enumerated().map { level, s in
            let params = a.parameterCount(keepingQueryHeads: s.kept)
            return try write(s, name: "block\(block).attention.level\(level)", level: level, params: params, path: path, precision: precision)
        }
    }

    private func pruneMLP(_ m: MLPWeights, _ h: Tensor, block: Int, path: String, precision: SafeTensorsWriter.Precision) throws -> [DatabaseManifest.Entry] {
        let (snapshots, _) = try StructuredOBS.prune(weight: m.down.floatValues(), hessian: h, groupSize: 1, levels: mlpLevels, relDamp: relDamp) { done, total in
            progress?.update(Double(block) + Double(done) / Double(max(total, 1)), note: "block \(block + 1): \(done)/\(total) neurons removed")
        }
        return try snapshots.enumerated().map { level, s in
            let params = m.parameterCount(keepingNeurons: s.kept.count)
            return try write(s, name: "block\(block).mlp.level\(level)", level: level, params: params, path: path, precision: precision)
        }
    }

    /// Writes what OBS changed at one level: the kept structures and the updated `o_proj` / `down_proj` columns, in
    /// the checkpoint's precision. Nothing is written for level 0 (the dense unit) or a unit removed entirely.
    private func write(_ s: StructuredOBS.Snapshot, name: String, level: Int, params: Int, path: String,
                       precision: SafeTensorsWriter.Precision) throws -> DatabaseManifest.Entry {
        guard s.removed > 0, !s.kept.isEmpty else { return .init(level: level, removed: s.removed, params: params, file: nil, bytes: 0, crc32: 0) }
        let file = name + ".safetensors", full = path + "/" + file
        // The kept indices go in the metadata: a 16-bit float cannot hold every index exactly.
        try SafeTensorsWriter.write([("weight", s.weights)], to: full, metadata: ["kept": s.kept.map(String.init).joined(separator: ",")],
                                    precision: precision)
        let data = try Data(contentsOf: URL(fileURLWithPath: full))
        return .init(level: level, removed: s.removed, params: params, file: file, bytes: data.count, crc32: data.withUnsafeBytes { checksum($0) })
    }
}

extension JSONEncoder {
    /// Sorted, indented JSON (stable manifests).
    static var pretty: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }
}
