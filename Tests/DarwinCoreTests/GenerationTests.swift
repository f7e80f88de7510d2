import Foundation
import Testing
@testable import DarwinCore

/// Incremental decoding with the key/value cache must choose what full forward passes choose.
@Suite("generation with a key/value cache")
struct GenerationTests {
    /// Greedy continuation by argmax over a full forward pass of the whole sequence for every new token.
    static func referenceGreedy(_ model: LanguageModel, _ prompt: [Int32], _ count: Int) throws -> [Int32] {
        var ids = prompt
        for _ in 0..<count {
            let logits = try model.forward(tokens: ids, batch: 1).logits.toArray()
            let v = model.config.vocabSize, last = Array(logits[(logits.count - v)...])
            ids.append(Int32(last.indices.max { last[$0] < last[$1] }!))
        }
        return Array(ids[prompt.count...])
    }

    @Test("greedy generation equals argmax over full forward passes (dense, pruned, 16-bit, sliding windows shorter than the text)", arguments: ["llama_gqa_tied", "qwen2_tied", "llama3_bias_bf16_sharded", "qwen3_bias_bf16_sharded", "mistral_window", "qwen2_window", "qwen3_window", "phi3_window_bf16_sharded"])
    func greedyMatchesFullForward(family: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(family))
        let prompt: [Int32] = [3, 17, 5, 42, 8]
        #expect(try model.generate(prompt: prompt, maxTokens: 24) == Self.referenceGreedy(model, prompt, 24))
        let pruned = model.clone()
        pruned.blocks[0].attention = try pruned.blocks[0].attention!.keeping(queryHeads: [0, pruned.blocks[0].attention!.queryHeads - 1])
        pruned.blocks[1].mlp = try pruned.blocks[1].mlp!.keeping(neurons: Array(0..<(pruned.blocks[1].mlp!.width / 2)))
        pruned.blocks[1].attention = nil
        #expect(try pruned.generate(prompt: [7], maxTokens: 16) == Self.referenceGreedy(pruned, [7], 16))
    }

    @Test("sampling: seeded and reproducible, top-k 1 is greedy, stop tokens end the continuation")
    func sampling() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("llama_gqa_tied"))
        var s = SamplingSettings()
        s.temperature = 1.5; s.seed = 9
        let a = try model.generate(prompt: [1, 2, 3], maxTokens: 20, sampling: s), b = try model.generate(prompt: [1, 2, 3], maxTokens: 20, sampling: s)
        #expect(a == b && a.count == 20)
        s.seed = 10
        #expect(try model.generate(prompt: [1, 2, 3], maxTokens: 20, sampling: s) != a)
        s.topK = 1
        #expect(try model.generate(prompt: [1, 2, 3], maxTokens: 12, sampling: s) == model.generate(prompt: [1, 2, 3], maxTokens: 12))
        let greedy = try model.generate(prompt: [1, 2, 3], maxTokens: 12)
        let stopped = try model.generate(prompt: [1, 2, 3], maxTokens: 12, stop: [greedy[4]])
        #expect(stopped == Array(greedy.prefix(through: greedy.firstIndex(of: greedy[4])!)))
        #expect(throws: TensorError.self) { try model.generate(prompt: [], maxTokens: 3) }
    }

    @Test("darwin-pycode-16m: greedy generation of 64 tokens equals step-by-step argmax",
          .enabled(if: FileManager.default.fileExists(atPath: TokenizerFixtures.sharedModel + "/config.json")))
    func sharedModel() throws {
        let model = try ModelLoader.load(directory: TokenizerFixtures.sharedModel)
        let tokenizer = try Tokenizer(path: TokenizerFixtures.sharedModel)
        let prompt = tokenizer.encode("def fibonacci(n):\n    ")
        let generated = try model.generate(prompt: prompt, maxTokens: 64, stop: [])
        #expect(generated == (try Self.referenceGreedy(model, prompt, 64)))
        print("darwin-pycode-16m continues 'def fibonacci(n):' with: \(tokenizer.decode(generated).debugDescription)")
    }
}
