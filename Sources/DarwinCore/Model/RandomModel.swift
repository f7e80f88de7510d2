/// Randomly initialised models of a given shape, for benchmarks, tests and demos that need no checkpoint.
extension LanguageModel {
    /// A Llama-style model (SwiGLU, RMSNorm, RoPE, GQA) with normal(0, std) weights and unit norms.
    public static func random(vocab: Int, hidden: Int, layers: Int, heads: Int, kvHeads: Int, intermediate: Int,
                              headDim: Int? = nil, tied: Bool = true, std: Float = 0.02, seed: UInt64 = 0) throws -> LanguageModel {
        let hd = headDim ?? hidden / heads
        let raw: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": intermediate,
            "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kvHeads, "head_dim": hd,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": tied, "max_position_embeddings": 4096,
        ]
        let config = try ModelConfig(JSONFields(file: "(random model)", object: raw))
        let g = RandomGenerator(seed: seed)
        func w(_ shape: [Int]) throws -> Tensor {
            try Interrupt.check()  // a real-shape model takes seconds to fill
            return try Tensor.randn(shape, generator: g).binaryInPlace(.mul, scalar: std)
        }
        let groups = heads / kvHeads
        let blocks = try (0..<layers).map { _ in
            TransformerBlock(
                inputNorm: try Tensor.ones([hidden]), postAttentionNorm: try Tensor.ones([hidden]),
                attention: AttentionWeights(q: try w([heads * hd, hidden]), k: try w([kvHeads * hd, hidden]),
                                            v: try w([kvHeads * hd, hidden]), o: try w([hidden, heads * hd]),
                                            kvOfQuery: (0..<heads).map { $0 / groups }, headDim: hd),
                mlp: MLPWeights(gate: try w([intermediate, hidden]), up: try w([intermediate, hidden]), down: try w([hidden, intermediate])))
        }
        let embedding = Weight(try w([vocab, hidden]))
        return LanguageModel(config: config, embedding: embedding, blocks: blocks, finalNorm: try Tensor.ones([hidden]),
                             lmHead: tied ? embedding : Weight(try w([vocab, hidden])))
    }

    /// Matrix-multiply FLOPs of one forward pass over `batch` sequences of `seq` tokens
    /// (projections, attention scores and mixing with the causal half counted, LM head).
    public func forwardFlops(batch: Int, seq: Int) -> Double {
        let tokens = Double(batch * seq), h = Double(config.hiddenSize)
        var flops = 2 * tokens * h * Double(config.vocabSize)
        for b in blocks {
            if let a = b.attention {
                flops += 2 * tokens * Double(a.q.count + a.k.count + a.v.count + a.o.count)
                flops += 2 * 2 * Double(batch) * Double(a.queryHeads * a.headDim) * Double(seq) * Double(seq + 1) / 2
            }
            if let m = b.mlp { flops += 2 * tokens * Double(m.gate.count + m.up.count + m.down.count) }
        }
        return flops
    }
}
