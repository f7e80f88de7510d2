import Foundation
import Testing
@testable import DarwinCore

@Suite("non-uniform (pruned) block shapes")
struct PrunedShapeTests {
    /// Zeroes, in place, the `o_proj` columns of query head `h` (the dense equivalent of removing it).
    static func zeroHead(_ a: AttentionWeights, _ h: Int) throws {
        try a.o.tensor.narrow(1, h * a.headDim, a.headDim).fill(0)
    }

    @Test("removing heads, a whole KV group, neurons and whole units equals zeroing them in the dense model",
          arguments: ["llama_gqa_tied", "llama3_bias_bf16_sharded", "qwen2_tied", "qwen3_bias_bf16_sharded"])
    func prunedEqualsZeroed(family: String) throws {
        let pruned = try ModelLoader.load(directory: Fixtures.model(family))
        let zeroed = try ModelLoader.load(directory: Fixtures.model(family))
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(family))
        let a0 = pruned.blocks[0].attention!
        // Block 1: with several KV heads, drop every query head of KV group 0 (its KV head disappears too) and
        // one more head; with a single KV head, drop the first and the last query head.
        let group0 = a0.kvOfQuery.indices.filter { a0.kvOfQuery[$0] == 0 }
        let removed = a0.kvHeads > 1 ? group0 + [group0.count] : [0, a0.queryHeads - 1]
        let kept = a0.kvOfQuery.indices.filter { !removed.contains($0) }
        pruned.blocks[0].attention = try a0.keeping(queryHeads: kept)
        for h in removed { try Self.zeroHead(zeroed.blocks[0].attention!, h) }
        // Block 1 MLP: keep every third neuron. Block 2: remove attention and MLP entirely.
        let m0 = pruned.blocks[0].mlp!
        let neurons = Array(stride(from: 0, to: m0.width, by: 3))
        pruned.blocks[0].mlp = try m0.keeping(neurons: neurons)
        for j in 0..<m0.width where !neurons.contains(j) { try zeroed.blocks[0].mlp!.down.tensor.narrow(1, j, 1).fill(0) }
        pruned.blocks[1].attention = try pruned.blocks[1].attention!.keeping(queryHeads: [])
        pruned.blocks[1].mlp = try pruned.blocks[1].mlp!.keeping(neurons: [])
        let a1 = zeroed.blocks[1].attention!
        try a1.o.tensor.fill(0)
        try zeroed.blocks[1].mlp!.down.tensor.fill(0)
        // Biases of removed output projections would remain in the zeroed model; remove them there too.
        a1.oBias = nil
        zeroed.blocks[1].mlp!.downBias = nil
        #expect(pruned.blocks[0].attention!.kvHeads == max(1, a0.kvHeads - 1))
        #expect(pruned.blocks[1].attention == nil && pruned.blocks[1].mlp == nil)
        #expect(pruned.parameterCount < zeroed.parameterCount)
        let p = try pruned.forward(tokens: ids, batch: batch).logits
        let z = try zeroed.forward(tokens: ids, batch: batch).logits
        #expect(relativeError(p, z) < 1e-5, "\(family): \(relativeError(p, z))")
    }

    @Test("bad head indices are rejected")
    func badHeads() throws {
        let m = try ModelLoader.load(directory: Fixtures.model("llama_gqa_tied"))
        #expect(throws: TensorError.self) { try m.blocks[0].attention!.keeping(queryHeads: [7]) }
    }
}

@Suite("saving checkpoints")
struct SaveTests {
    @Test("a model made in memory saves a config transformers accepts (model_type and architectures)")
    func randomModelConfig() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelSaver.save(try LanguageModel.random(vocab: 64, hidden: 32, layers: 1, heads: 4, kvHeads: 2, intermediate: 48), to: dir.path + "/r")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("r/config.json"))) as! [String: Any]
        #expect(config["model_type"] as? String == "llama" && config["architectures"] as? [String] == ["LlamaForCausalLM"])
        #expect(try ModelLoader.load(directory: dir.path + "/r").parameterCount > 0)
    }

    /// Every family: prune, save compact, load, save padded, load: the same logits as the pruned model in memory.
    @Test("a pruned model saved compact and loaded again exports the same padded model (which dense heads and neurons it kept is saved)",
          arguments: Fixtures.families)
    func compactThenPadded(family: String) throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelLoader.load(directory: Fixtures.model(family))
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(family))
        let neurons = Array(stride(from: 5, to: model.config.intermediateSize, by: 3)), heads = [1, model.config.headCount - 1]
        model.blocks[0].attention = try model.blocks[0].attention!.keeping(queryHeads: heads)
        model.blocks[1].mlp = try model.blocks[1].mlp!.keeping(neurons: neurons)
        model.blocks[1].attention = nil
        let expected = try model.forward(tokens: ids, batch: batch).logits
        try ModelSaver.save(model, to: dir.path + "/compact")
        let reloaded = try ModelLoader.load(directory: dir.path + "/compact")
        #expect(reloaded.blocks[0].attention!.denseHeads == heads && reloaded.blocks[1].mlp!.denseNeurons == neurons)
        #expect(relativeError(try reloaded.forward(tokens: ids, batch: batch).logits, expected) == 0)
        try ModelSaver.save(try reloaded.zeroPadded(), to: dir.path + "/padded")
        let padded = try ModelLoader.load(directory: dir.path + "/padded")
        #expect(padded.parameterCount == (try ModelLoader.load(directory: Fixtures.model(family))).parameterCount)
        let err = relativeError(try padded.forward(tokens: ids, batch: batch).logits, expected)
        #expect(err < 1e-5, "\(family): \(err)")
    }

    @Test("a saved model carries the tokenizer and generation files of the checkpoint it was loaded from")
    func companionFiles() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("source"), fm = FileManager.default
        try fm.copyItem(atPath: Fixtures.model("llama_gqa_tied"), toPath: source.path)
        try fm.copyItem(atPath: TokenizerFixtures.dir("bytelevel_gpt2") + "/tokenizer.json", toPath: source.path + "/tokenizer.json")
        try #"{"eos_token_id": 2}"#.write(toFile: source.path + "/generation_config.json", atomically: true, encoding: .utf8)
        let model = try ModelLoader.load(directory: source.path)
        model.blocks[0].mlp = try model.blocks[0].mlp!.keeping(neurons: Array(0..<40))
        try ModelSaver.save(model, to: dir.path + "/out")
        try ModelSaver.save(try model.zeroPadded(), to: dir.path + "/out-padded")
        for out in ["out", "out-padded"] {
            for name in ["tokenizer.json", "generation_config.json"] {
                #expect(fm.contentsEqual(atPath: source.path + "/" + name, andPath: dir.path + "/\(out)/" + name), "\(out)/\(name)")
            }
            _ = try Tokenizer(path: dir.path + "/" + out)
        }
        try ModelSaver.save(model, to: dir.path + "/out")  // again over itself: the files are kept, not copied twice
        #expect(fm.fileExists(atPath: dir.path + "/out/tokenizer.json"))
    }

    @Test("a save never replaces the current directory, a directory containing it, or one holding subdirectories")
    func refusesToReplaceMore() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelLoader.load(directory: Fixtures.model("llama_gqa_tied"))
        let here = FileManager.default.currentDirectoryPath
        for target in [here, URL(fileURLWithPath: here).deletingLastPathComponent().path, "/"] {
            #expect(throws: FormatError.self) { try ModelSaver.save(model, to: target) }
        }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("work/notes"), withIntermediateDirectories: true)
        let error = #expect(throws: FormatError.self) { try ModelSaver.save(model, to: dir.path + "/work") }
        #expect("\(error!)".contains("holds the directory 'notes'"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/work/notes"))
        try ModelSaver.save(model, to: dir.path + "/fresh")  // a new directory, and then again over itself
        try ModelSaver.save(model, to: dir.path + "/fresh")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/fresh/model.safetensors"))
    }

    @Test("dense and pruned models save and reload with identical logits", arguments: ["llama3_bias_bf16_sharded", "qwen2_tied", "qwen3_tied"])
    func roundTrip(family: String) throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelLoader.load(directory: Fixtures.model(family))
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(family))
        try ModelSaver.save(model, to: dir.path + "/dense")
        let dense = try ModelLoader.load(directory: dir.path + "/dense")
        #expect(relativeError(try dense.forward(tokens: ids, batch: batch).logits, try model.forward(tokens: ids, batch: batch).logits) == 0)
        #expect((dense.config.raw["darwin_layers"]) == nil && (dense.lmHead === dense.embedding) == (model.lmHead === model.embedding))
        let pruned = model.clone()
        pruned.blocks[0].attention = try pruned.blocks[0].attention!.keeping(queryHeads: [1, 3])
        pruned.blocks[1].mlp = nil
        try ModelSaver.save(pruned, to: dir.path + "/pruned")
        let reloaded = try ModelLoader.load(directory: dir.path + "/pruned")
        #expect(reloaded.blocks[0].attention?.queryHeads == 2 && reloaded.blocks[1].mlp == nil)
        #expect(reloaded.parameterCount == pruned.parameterCount)
        #expect(relativeError(try reloaded.forward(tokens: ids, batch: batch).logits, try pruned.forward(tokens: ids, batch: batch).logits) == 0)
    }
}
