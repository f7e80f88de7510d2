import Foundation
import Testing
@testable import DarwinCore

/// Fixtures made by Tests/Fixtures/generate.py with Hugging Face transformers.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let families = ["llama_gqa_tied", "llama3_bias_bf16_sharded", "mistral_f16", "qwen2_tied", "qwen3_tied", "qwen3_bias_bf16_sharded",
                           "mistral_window", "qwen2_window", "qwen3_window", "phi3_gqa", "phi3_window_bf16_sharded", "phi3_partial_rotary"]
    static func model(_ name: String) -> String { root.appendingPathComponent("models/\(name)").path }
    static func reference(_ name: String) throws -> SafeTensorsFile { try SafeTensorsFile(path: model(name) + "/reference.safetensors") }
    /// A fixture family's model, reference file and input ids (with batch size).
    static func load(_ family: String) throws -> (model: LanguageModel, ref: SafeTensorsFile, ids: [Int32], batch: Int) {
        let ref = try reference(family)
        let (ids, batch) = try inputIds(ref)
        return (try ModelLoader.load(directory: model(family)), ref, ids, batch)
    }

    /// The reference input ids as Int32, with batch size.
    static func inputIds(_ ref: SafeTensorsFile) throws -> ([Int32], Int) {
        let t = try ref.tensor("input_ids")
        return (t.toArray().map { Int32($0) }, t.shape[0])
    }
}

/// Max |a - b| / max(|b|) over two equally shaped tensors.
func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    let x = a.toArray(), y = b.toArray()
    guard x.count == y.count else { return .infinity }
    if x.isEmpty { return 0 }
    let scale = y.map { Double(Swift.abs($0)) }.max() ?? 1
    return zip(x, y).map { Double(Swift.abs($0 - $1)) }.max()! / max(scale, 1e-12)
}

@Suite("models match transformers")
struct ModelReferenceTests {
    @Test("logits match transformers within 1e-4 relative error", arguments: Fixtures.families)
    func logits(family: String) throws {
        let (model, ref, ids, batch) = try Fixtures.load(family)
        let result = try model.forward(tokens: ids, batch: batch, keepHiddenStates: true)
        let expected = try ref.tensor("logits")
        #expect(result.logits.shape == expected.shape)
        let err = relativeError(result.logits, expected)
        print("\(family): logits max relative error \(err)")
        #expect(err < 1e-4, "\(family): \(err)")
        // Hidden states: the embeddings and every block output except the last (transformers normalises that one).
        for i in 0..<model.blocks.count {
            let err = relativeError(result.hiddenStates[i], try ref.tensor("hidden.\(i)"))
            #expect(err < 1e-4, "\(family) hidden.\(i): \(err)")
        }
    }

    @Test("next-token cross-entropy from our logits matches transformers' loss", arguments: Fixtures.families)
    func loss(family: String) throws {
        let (model, ref, ids, batch) = try Fixtures.load(family)
        let logits = try model.forward(tokens: ids, batch: batch).logits
        let seq = ids.count / batch, vocab = model.config.vocabSize
        let logp = try logits.logSoftmax(dim: -1)
        var total = 0.0
        for b in 0..<batch {
            for t in 0..<(seq - 1) { total -= Double(logp.data[(b * seq + t) * vocab + Int(ids[b * seq + t + 1])]) }
        }
        let loss = total / Double(batch * (seq - 1))
        let expected = Double(try ref.tensor("loss").item())
        print("\(family): loss \(loss), transformers \(expected)")
        #expect(Swift.abs(loss - expected) < 1e-5 * expected, "\(family): \(loss) vs \(expected)")
    }

    @Test("configs: both RoPE layouts, biases, tying and head_dim are read")
    func configs() throws {
        let l3 = try ModelLoader.load(directory: Fixtures.model("llama3_bias_bf16_sharded"))
        #expect(l3.config.rope.theta == 500000)
        #expect(l3.config.rope.scaling == .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8))
        #expect(l3.config.headDim == 16 && l3.config.hiddenSize == 48 && l3.blocks[0].attention?.kvHeads == 1)
        #expect(l3.blocks[0].attention?.oBias != nil && l3.blocks[0].mlp?.downBias != nil && l3.lmHead !== l3.embedding)
        let qwen = try ModelLoader.load(directory: Fixtures.model("qwen2_tied"))
        #expect(qwen.config.rope.theta == 1_000_000 && qwen.lmHead === qwen.embedding)
        #expect(qwen.blocks[0].attention?.qBias != nil && qwen.blocks[0].attention?.oBias == nil)
        #expect(qwen.parameterCount == 44560)
    }
}

@Suite("docs/supported.md")
struct SupportedListTests {
    /// The list users read is the list the loader accepts: every architecture (with its model_type) and every fixture
    /// family appears, and each family's fixture really is of an architecture listed there.
    @Test("lists every architecture the loader accepts and every fixture family")
    func listed() throws {
        let text = try String(contentsOf: Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/supported.md"), encoding: .utf8)
        for a in ModelConfig.Architecture.allCases {
            #expect(text.contains("`\(a.rawValue)` (`\(a.modelType)`)"), "\(a.rawValue) missing")
        }
        for family in Fixtures.families {
            #expect(text.contains("`\(family)`"), "fixture \(family) missing")
            #expect(ModelConfig.Architecture.allCases.contains(try ModelConfig(contentsOf: Fixtures.model(family) + "/config.json").architecture))
        }
        for rope in ["`default`", "`linear`", "`llama3`"] { #expect(text.contains(rope)) }
    }
}
