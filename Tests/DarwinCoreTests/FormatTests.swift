import Foundation
import Testing
@testable import DarwinCore

@Suite("file formats: safetensors, config.json")
struct FormatTests {

    @Test("write and read back f32 and bf16 safetensors; bf16 rounds to nearest even")
    func roundTrip() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Tensor.randn([3, 5]), b = try Tensor([1, 1.00390625, 1.01171875, -2.5e-3], shape: [4])
        let path = dir.appendingPathComponent("x.safetensors").path
        try SafeTensorsWriter.write([("a", a), ("b", b)], to: path, metadata: ["k": "v"])
        let f = try SafeTensorsFile(path: path)
        #expect(f.metadata == ["k": "v"] && f.entries["a"]?.shape == [3, 5])
        #expect(try f.tensor("a").toArray() == a.toArray())
        try SafeTensorsWriter.write([("b", b)], to: path, precision: .bf16)
        // 1.00390625 is halfway between bf16 neighbours 1 and 1.0078125: ties to even (1).
        #expect(try SafeTensorsFile(path: path).tensor("b").toArray() == [1, 1, 1.015625, -0.00250244140625])  // values from torch .bfloat16()
    }

    @Test("streamed files equal written ones in every precision, also across chunk boundaries; f16 round trip")
    func streaming() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let big = try Tensor.randn([3, 400_000]), small = try Tensor([0.5, -1.25, 3e-5], shape: [3])
        for precision in [SafeTensorsWriter.Precision.f32, .bf16, .f16] {
            let written = dir.appendingPathComponent("w.safetensors").path, streamed = dir.appendingPathComponent("s.safetensors").path
            try SafeTensorsWriter.write([("big", big), ("small", small)], to: written, precision: precision)
            var offsets = [0, 0]
            try SafeTensorsWriter.stream([("big", big.shape), ("small", small.shape)], to: streamed, precision: precision) { index, chunk in
                let source = [big, small][index]
                for i in chunk.indices { chunk[i] = source.data[offsets[index] + i] }
                offsets[index] += chunk.count
            }
            #expect(offsets == [big.count, small.count])
            #expect(try Data(contentsOf: URL(fileURLWithPath: written)) == Data(contentsOf: URL(fileURLWithPath: streamed)))
        }
        // float16 keeps these values exactly (3e-5 becomes the nearest subnormal-range half).
        let f = try SafeTensorsFile(path: dir.appendingPathComponent("s.safetensors").path)
        #expect(f.entries["small"]?.dtype == .f16)
        #expect(try f.tensor("small").toArray() == [0.5, -1.25, Float(Float16(3e-5))])
    }

    @Test("every real shape's config loads with the architecture's sizes")
    func realShapes() throws {
        for (name, raw) in RealShapes.configs {
            let c = try ModelConfig(JSONFields(file: name, object: raw))
            #expect(c.headCount * c.headDim == c.hiddenSize && c.headCount % c.kvHeadCount == 0, "\(name)")
        }
        let llama = try ModelConfig(JSONFields(file: "", object: RealShapes.configs["llama-3.2-1b"]!))
        #expect(llama.intermediateSize == 8192 && llama.layerCount == 16 && llama.vocabSize == 128256 && llama.kvHeadCount == 8)
        #expect(throws: TensorError.self) { try RealShapes.writeCheckpoint("gpt-5", to: NSTemporaryDirectory() + "none") }
    }

    @Test("fields that change the math are implemented or refused: hidden_act; each family's sliding windows, per layer")
    func computeChangingFields() throws {
        func config(_ family: String, _ changes: [String: Any]) throws -> ModelConfig {
            var raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.model(family) + "/config.json"))) as! [String: Any]
            for (k, v) in changes { raw[k] = v }
            return try ModelConfig(JSONFields(file: "config.json", object: raw))
        }
        #expect(throws: FormatError.self) { try config("llama_gqa_tied", ["hidden_act": "gelu"]) }
        #expect(try config("llama_gqa_tied", ["hidden_act": "swish", "sliding_window": 4]).layerWindows == [nil, nil])
        // Qwen2/Qwen3 apply sliding_window only with use_sliding_window (as transformers), from max_window_layers on
        // or where layer_types says so.
        #expect(try config("qwen2_tied", ["use_sliding_window": false, "sliding_window": 4]).layerWindows == [nil, nil])
        #expect(try config("qwen2_window", [:]).layerWindows == [nil, 5, 5])  // no layer_types: from max_window_layers = 1 on
        #expect(try config("qwen2_window", ["max_window_layers": 2]).layerWindows == [nil, nil, 5])
        #expect(try config("qwen2_tied", ["use_sliding_window": true, "sliding_window": 4]).layerWindows == [nil, nil])  // layer_types: all full
        #expect(try config("qwen3_tied", ["use_sliding_window": true, "sliding_window": 4,
                                          "layer_types": ["sliding_attention", "full_attention"]]).layerWindows == [4, nil])
        #expect(throws: FormatError.self) {
            try config("qwen3_tied", ["use_sliding_window": true, "sliding_window": 4, "layer_types": ["full_attention", "chunked_attention"]])
        }
        #expect(throws: FormatError.self) { try config("qwen3_tied", ["use_sliding_window": true, "sliding_window": 4, "layer_types": ["full_attention"]]) }
        #expect(try config("mistral_f16", ["sliding_window": NSNull()]).layerWindows == [nil, nil])
        #expect(try config("mistral_f16", ["sliding_window": 4]).layerWindows == [4, 4])
        #expect(throws: FormatError.self) { try config("mistral_f16", ["sliding_window": 0]) }
    }

    /// transformers ties the head to the embeddings when the config says so, whatever the file stores.
    @Test("tie_word_embeddings with a stored lm_head.weight: the head is the embedding matrix, as in transformers")
    func tiedWithStoredHead() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = Fixtures.model("mistral_f16")
        try FileManager.default.copyItem(atPath: source + "/model.safetensors", toPath: dir.path + "/model.safetensors")
        var raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))) as! [String: Any]
        raw["tie_word_embeddings"] = true
        try JSONSerialization.data(withJSONObject: raw).write(to: dir.appendingPathComponent("config.json"))
        let untied = try ModelLoader.load(directory: source), tied = try ModelLoader.load(directory: dir.path)
        #expect(tied.lmHead === tied.embedding && untied.lmHead !== untied.embedding)
        #expect(tied.lmHead.floatValues().toArray() == untied.embedding.floatValues().toArray())
    }

    @Test("corrupt, truncated and mismatched files give errors naming file and tensor")
    func corruptFiles() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.safetensors").path
        try SafeTensorsWriter.write([("w", try Tensor.ones([4, 4]))], to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        try good.prefix(good.count - 8).write(to: URL(fileURLWithPath: path))
        #expect(throws: FormatError.self) { try SafeTensorsFile(path: path) }
        do { _ = try SafeTensorsFile(path: path) } catch let e as FormatError {
            #expect(e.file == path && e.message.contains("tensor 'w'") && e.message.contains("outside the data section"))
        }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(throws: FormatError.self) { try SafeTensorsFile(path: path) }
        var bad = good
        let header = String(decoding: good[8..<(8 + Int(good[0]))], as: UTF8.self).replacingOccurrences(of: "F32", with: "I8 ")
        bad.replaceSubrange(8..<(8 + header.utf8.count), with: Data(header.utf8))
        try bad.write(to: URL(fileURLWithPath: path))
        do { _ = try SafeTensorsFile(path: path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.message.contains("unsupported dtype I8"))
        }
    }

    @Test("checkpoint shape mismatches and missing shards are reported with file and tensor")
    func checkpointErrors() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = Fixtures.model("llama_gqa_tied")
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: src + "/" + f, toPath: dir.appendingPathComponent(f).path)
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        config["intermediate_size"] = 81
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        do { _ = try ModelLoader.load(directory: dir.path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.description.contains("model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [80,64], the config implies [81,64]"))
        }
        config["intermediate_size"] = 80
        config["architectures"] = ["GPT2LMHeadModel"]
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        do { _ = try ModelLoader.load(directory: dir.path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.message.contains("GPT2LMHeadModel is not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM)"))
        }
        config["architectures"] = ["LlamaForCausalLM"]
        config["num_attention_heads"] = "four"
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        do { _ = try ModelLoader.load(directory: dir.path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.message == "field 'num_attention_heads' must be an integer, found four")
        }
        let sharded = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: sharded) }
        let l3 = Fixtures.model("llama3_bias_bf16_sharded")
        for f in ["config.json", "model.safetensors.index.json"] {
            try FileManager.default.copyItem(atPath: l3 + "/" + f, toPath: sharded.appendingPathComponent(f).path)
        }
        do { _ = try ModelLoader.load(directory: sharded.path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.message.contains("weight_map names shard") && e.message.contains("which is missing"))
        }
    }

    @Test("JSON booleans and integers are told apart")
    func jsonTypes() throws {
        let f = JSONFields(file: "c.json", object: try JSONSerialization.jsonObject(with: Data(#"{"n": 1, "b": true, "x": 1.5}"#.utf8)) as! [String: Any])
        #expect(try f.int("n") == 1 && f.bool("b", false) == true)
        #expect(throws: FormatError.self) { try f.int("b") }
        #expect(throws: FormatError.self) { try f.bool("n", false) }
        #expect(throws: FormatError.self) { try f.int("x") }
        #expect(throws: FormatError.self) { try f.int("missing") }
    }
}
