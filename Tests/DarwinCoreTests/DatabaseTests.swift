import Foundation
import Testing
@testable import DarwinCore

@Suite("compression database")
struct DatabaseTests {
    static let family = "llama3_bias_bf16_sharded"  // GQA 4:1, biases on every projection

    static func calibration(_ model: LanguageModel, count: Int = 6, length: Int = 12) -> [[Int32]] {
        let g = RandomGenerator(seed: 5)
        return (0..<count).map { _ in (0..<length).map { _ in Int32(g.integer(0, model.config.vocabSize - 1)) } }
    }

    static func build(_ path: String, maxNewBlocks: Int? = nil) throws -> (LanguageModel, PruningDatabase) {
        let model = try ModelLoader.load(directory: Fixtures.model(family))
        var builder = DatabaseBuilder(model: model, steps: 4)
        builder.maxNewBlocks = maxNewBlocks
        return (model, try builder.build(model: model, calibration: calibration(model), path: path))
    }

    @Test("a build shared by processes (each its blocks, any order, resumed on another count) equals one build")
    func sharedBuild() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, single) = try Self.build(dir.appendingPathComponent("single").path)
        let shared = dir.appendingPathComponent("shared").path
        var builder = DatabaseBuilder(model: model, steps: 4)
        // Rank 1 of 2 first, then a job of 3 resumes: its rank 0 builds what is left of its share.
        builder.share = (1, 2)
        try builder.buildShare(model: model, calibration: Self.calibration(model), path: shared)
        #expect(throws: FormatError.self) { try DatabaseBuilder.mergeParts(path: shared) }   // blocks 1 and 3 are missing
        for rank in [0, 2] {
            builder.share = (rank, 3)
            try builder.buildShare(model: model, calibration: Self.calibration(model), path: shared)
        }
        let merged = try DatabaseBuilder.mergeParts(path: shared)
        #expect(!FileManager.default.fileExists(atPath: shared + "/" + DatabaseBuilder.partsFolder))
        #expect(merged.manifest.blocks.map(\.index) == [0, 1, 2])
        for (a, b) in zip(single.manifest.blocks, merged.manifest.blocks) {
            #expect(a.attention.map(\.crc32) == b.attention.map(\.crc32) && a.mlp.map(\.crc32) == b.mlp.map(\.crc32), "block \(a.index)")
        }
        // A part made for another calibration is refused by name.
        builder.share = (0, 2)
        try builder.buildShare(model: model, calibration: Self.calibration(model, count: 5), path: dir.appendingPathComponent("other").path)
        #expect(throws: (any Error).self) {
            try builder.buildShare(model: model, calibration: Self.calibration(model), path: dir.appendingPathComponent("other").path)
        }
    }

    @Test("level 0 reproduces the dense model; parameters fall with the level")
    func denseLevel() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, db) = try Self.build(dir.path)
        #expect(db.levels(.attention) == [0, 1, 2, 3, 4] && db.levels(.mlp) == [0, 18, 36, 54, 72])
        #expect(PruningLevels.evenlySpaced(structures: 12, steps: 10) == Array(0...12))
        #expect(PruningLevels.evenlySpaced(structures: 1024, steps: 10) == stride(from: 0, through: 1024, by: 128).map { $0 })
        #expect(PruningLevels.evenlySpaced(structures: 13, steps: 4) == [0, 3, 7, 10, 13])
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(Self.family))
        let dense = try model.forward(tokens: ids, batch: batch).logits
        let candidate = model.clone()
        try candidate.apply(db, Genome(attention: [0, 0, 0], mlp: [0, 0, 0]))
        #expect(relativeError(try candidate.forward(tokens: ids, batch: batch).logits, dense) < 1e-6)
        for kind in UnitKind.allCases {
            let params = try (0..<db.levels(kind).count).map { try db.params(block: 1, kind: kind, level: $0) }
            #expect(params == params.sorted(by: >) && params.last == 0)
        }
    }

    @Test("a stitched candidate computes what the dense model computes with those structures zeroed")
    func stitchedEqualsZeroed() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, db) = try Self.build(dir.path)
        let genome = Genome(attention: [2, 4, 1], mlp: [3, 1, 4])
        let candidate = model.clone()
        try candidate.apply(db, genome)
        #expect(candidate.blocks[1].attention == nil && candidate.blocks[2].mlp == nil)
        #expect(model.blocks.allSatisfy { $0.attention != nil && $0.mlp != nil })  // the parent is untouched
        // The zeroed equivalent: dense shapes, removed structures' o/down columns zero, kept ones from the database.
        let zeroed = try ModelLoader.load(directory: Fixtures.model(Self.family))
        let hd = model.config.headDim
        for i in 0..<3 {
            let a = zeroed.blocks[i].attention!, m = zeroed.blocks[i].mlp!
            let keptHeads = try db.kept(block: i, kind: .attention, level: genome.attention[i])
            try a.o.tensor.fill(0)
            if let stitched = candidate.blocks[i].attention {
                for (k, h) in keptHeads.enumerated() { _ = try a.o.tensor.narrow(1, h * hd, hd).copy(from: stitched.o.tensor.narrow(1, k * hd, hd)) }
            } else { a.oBias = nil }
            let keptNeurons = try db.kept(block: i, kind: .mlp, level: genome.mlp[i])
            try m.down.tensor.fill(0)
            if let stitched = candidate.blocks[i].mlp {
                for (k, j) in keptNeurons.enumerated() { _ = try m.down.tensor.narrow(1, j, 1).copy(from: stitched.down.tensor.narrow(1, k, 1)) }
            } else { m.downBias = nil }
        }
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(Self.family))
        let c = try candidate.forward(tokens: ids, batch: batch).logits, z = try zeroed.forward(tokens: ids, batch: batch).logits
        #expect(relativeError(c, z) < 1e-5, "\(relativeError(c, z))")
        #expect(try db.params(genome) < db.params(Genome(attention: [0, 0, 0], mlp: [0, 0, 0])))
        // Switching back re-loads only the changed units and restores the dense outputs.
        try candidate.apply(db, Genome(attention: [0, 0, 0], mlp: [0, 0, 0]))
        #expect(relativeError(try candidate.forward(tokens: ids, batch: batch).logits, try model.forward(tokens: ids, batch: batch).logits) < 1e-6)
    }

    @Test("entries hold only what OBS changes, in the checkpoint's precision; the database is smaller than 1.5x the checkpoint")
    func compactStorage() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, db) = try Self.build(dir.path)
        #expect(model.storagePrecision == .bf16)
        for block in db.manifest.blocks {
            for e in block.attention + block.mlp {
                #expect((e.file == nil) == (e.removed == 0 || e.params == 0))
                guard let name = e.file else { continue }
                let f = try SafeTensorsFile(path: dir.path + "/" + name)
                #expect(Array(f.entries.keys) == ["weight"] && f.entries["weight"]!.dtype == .bf16)
            }
        }
        let bytes = { (path: String) in
            try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".safetensors") }
                .map { try FileManager.default.attributesOfItem(atPath: path + "/" + $0)[.size] as! Int }.reduce(0, +)
        }
        let ratio = Double(try bytes(dir.path)) / Double(try bytes(Fixtures.model(Self.family)))
        #expect(ratio < 1.5, "database / checkpoint bytes: \(ratio)")
        // Level kept lists: all structures at level 0, fewer at every level after.
        #expect(try db.kept(block: 0, kind: .mlp, level: 0) == Array(0..<model.config.intermediateSize))
        #expect(try db.kept(block: 0, kind: .attention, level: 2).count == model.config.headCount - 2)
        // A database of the previous format is refused with a message that says what to do.
        let manifest = dir.appendingPathComponent("manifest.json")
        let old = try String(contentsOf: manifest, encoding: .utf8).replacingOccurrences(of: "\"version\" : 2", with: "\"version\" : 1")
        try old.write(to: manifest, atomically: true, encoding: .utf8)
        do { _ = try PruningDatabase(path: dir.path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.message.contains("version 1 is not supported") && e.message.contains("build the database again"))
        }
    }

    @Test("an interrupted build resumes and gives the same database as an uninterrupted one")
    func resume() throws {
        let a = try TestFiles.tempDir(), b = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let (model, partial) = try Self.build(a.path, maxNewBlocks: 1)
        #expect(partial.manifest.blocks.count == 1 && !partial.manifest.isComplete)
        #expect(throws: TensorError.self) { try model.clone().apply(partial, Genome(attention: [0, 0, 0], mlp: [0, 0, 0])) }
        let (_, resumed) = try Self.build(a.path)
        let (_, fresh) = try Self.build(b.path)
        #expect(resumed.manifest.isComplete)
        #expect(resumed.manifest.blocks.map { $0.attention.map(\.crc32) + $0.mlp.map(\.crc32) }
                == fresh.manifest.blocks.map { $0.attention.map(\.crc32) + $0.mlp.map(\.crc32) })
    }

    @Test("corrupt entries, another model and mismatched settings are reported clearly")
    func errors() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, db) = try Self.build(dir.path)
        let file = dir.appendingPathComponent("block0.mlp.level1.safetensors")
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: file)
        let reopened = try PruningDatabase(path: dir.path)
        do { try model.clone().apply(reopened, Genome(attention: [0, 0, 0], mlp: [1, 0, 0])); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.file.hasSuffix("block0.mlp.level1.safetensors") && e.message.contains("corrupt"))
        }
        let other = try ModelLoader.load(directory: Fixtures.model("llama_gqa_tied"))
        do { try other.apply(db, Genome(attention: [0, 0], mlp: [0, 0])); Issue.record("expected an error") } catch let e as TensorError {
            #expect(e.message.contains("was built for model"))
        }
        var builder = DatabaseBuilder(model: model, steps: 2)
        builder.relDamp = 0.01
        do { _ = try builder.build(model: model, calibration: Self.calibration(model), path: dir.path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.message.contains("different levels"))
        }
        #expect(throws: FormatError.self) { try PruningDatabase(path: dir.appendingPathComponent("nothing").path) }
        #expect(throws: TensorError.self) { try model.clone().apply(db, Genome(attention: [0, 0, 9], mlp: [0, 0, 0])) }
    }
}

@Suite("exporting pruned models")
struct ExportTests {
    @Test("one build per directory at a time; a build with other calibration is refused from its start; a bad manifest is an error")
    func concurrentBuilds() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelLoader.load(directory: Fixtures.model(DatabaseTests.family))
        var builder = DatabaseBuilder(model: model, steps: 4)
        // Another build holding the directory (an flock: another open of the file conflicts even in this process).
        let held = try DirectoryLock(directory: dir.path, name: ".database.lock")
        #expect { try builder.build(model: model, calibration: DatabaseTests.calibration(model), path: dir.path) } throws: {
            "\($0)".contains("is in use by another darwinhost run")
        }
        held.release()
        // A build stopped before its first block has recorded its settings: one with other calibration is refused.
        builder.maxNewBlocks = 0
        #expect(try builder.build(model: model, calibration: DatabaseTests.calibration(model), path: dir.path).manifest.blocks.isEmpty)
        builder.maxNewBlocks = nil
        #expect { try builder.build(model: model, calibration: DatabaseTests.calibration(model, count: 5), path: dir.path) } throws: {
            "\($0)".contains("a database built with a different calibration")
        }
        try Data("{".utf8).write(to: dir.appendingPathComponent(PruningDatabase.manifestName))
        #expect { try builder.build(model: model, calibration: DatabaseTests.calibration(model), path: dir.path) } throws: {
            "\($0)".contains("manifest is not a darwinhost database manifest")
        }
    }

    @Test("saving over a sharded checkpoint replaces it whole: no stale index or shard, other files kept, nothing left behind")
    func saveOverSharded() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        let target = dir.appendingPathComponent("ck")
        try fm.copyItem(atPath: Fixtures.model("llama3_bias_bf16_sharded"), toPath: target.path)
        try "mine".write(to: target.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let model = try LanguageModel.random(vocab: 40, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 24, seed: 9)
        try ModelSaver.save(model, to: target.path)
        let names = try fm.contentsOfDirectory(atPath: target.path)
        #expect(!names.contains("model.safetensors.index.json") && !names.contains { $0.hasPrefix("model-") })
        #expect(names.contains("notes.txt") && names.contains("model.safetensors") && names.contains("config.json"))
        #expect(try fm.contentsOfDirectory(atPath: dir.path) == ["ck"])
        let reloaded = try ModelLoader.load(directory: target.path)
        let ids: [Int32] = [1, 5, 9, 2, 7, 3]
        #expect(relativeError(try reloaded.forward(tokens: ids, batch: 1).logits, try model.forward(tokens: ids, batch: 1).logits) < 1e-6)
    }

    @Test("a zero-padded pruned model (dense shapes) computes the pruned model's logits",
          arguments: ["llama3_bias_bf16_sharded", "llama_gqa_tied", "qwen3_bias_bf16_sharded"])
    func zeroPadded(family: String) throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelLoader.load(directory: Fixtures.model(family))
        let builder = DatabaseBuilder(model: model, steps: 4)
        let db = try builder.build(model: model, calibration: DatabaseTests.calibration(model), path: dir.path + "/db")
        let n = model.blocks.count, top = db.levels(.attention).count - 1
        let pruned = model.clone()
        try pruned.apply(db, Genome(attention: (0..<n).map { min($0 + 1, top) }, mlp: (0..<n).map { [4, 1, 2][$0 % 3] }))
        pruned.blocks[0].attention = try pruned.blocks[0].attention!.keeping(queryHeads: [1])  // compose a further pruning
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(family))
        try ModelSaver.save(try pruned.zeroPadded(), to: dir.path + "/padded")
        let reloaded = try ModelLoader.load(directory: dir.path + "/padded")
        #expect(reloaded.parameterCount == model.parameterCount && reloaded.config.raw["darwin_layers"] == nil)
        let err = relativeError(try reloaded.forward(tokens: ids, batch: batch).logits, try pruned.forward(tokens: ids, batch: batch).logits)
        #expect(err < 1e-5, "\(family): \(err)")
    }
}
