import Foundation

/// The configurations of real checkpoints (shapes, rope, biases; not their weights), for writing random-initialised
/// checkpoints that show memory and time the way users meet them.
public enum RealShapes {
    /// `config.json` contents by short name.
    public static let configs: [String: [String: Any]] = [
        "smollm2-360m": llama(hidden: 960, layers: 32, heads: 15, kvHeads: 5, intermediate: 2560, vocab: 49152, tied: true,
                              theta: 100000, maxPositions: 8192),
        "qwen2.5-0.5b": [
            "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896, "num_hidden_layers": 24,
            "num_attention_heads": 14, "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936,
            "tie_word_embeddings": true, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "max_position_embeddings": 32768,
            "hidden_act": "silu", "use_sliding_window": false, "torch_dtype": "bfloat16",
        ],
        "llama-3.2-1b": llama(hidden: 2048, layers: 16, heads: 32, kvHeads: 8, intermediate: 8192, vocab: 128256, tied: true,
                              theta: 500000, maxPositions: 131072, llama3Factor: 32),
        "llama-2-7b": llama(hidden: 4096, layers: 32, heads: 32, kvHeads: 32, intermediate: 11008, vocab: 32000, tied: false,
                            theta: 10000, maxPositions: 4096),
        "llama-3.1-8b": llama(hidden: 4096, layers: 32, heads: 32, kvHeads: 8, intermediate: 14336, vocab: 128256, tied: false,
                              theta: 500000, maxPositions: 131072, llama3Factor: 8),
    ]

    private static func llama(hidden: Int, layers: Int, heads: Int, kvHeads: Int, intermediate: Int, vocab: Int, tied: Bool,
                              theta: Double, maxPositions: Int, llama3Factor: Double? = nil) -> [String: Any] {
        var config: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": kvHeads, "intermediate_size": intermediate, "vocab_size": vocab,
            "tie_word_embeddings": tied, "rope_theta": theta, "rms_norm_eps": 1e-5, "max_position_embeddings": maxPositions,
            "hidden_act": "silu", "head_dim": hidden / heads, "torch_dtype": "bfloat16",
        ]
        if let factor = llama3Factor {
            config["rope_scaling"] = ["rope_type": "llama3", "factor": factor, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 8192] as [String: Any]
        }
        return config
    }

    /// Writes a random-initialised bf16 checkpoint of shape `name` to `directory` (normal(0, 0.02) weights, unit
    /// norms, small biases), streaming tensor by tensor so that even an 8B shape needs little memory.
    /// Layers are truncated to `layers` when given (a real model's blocks, fewer of them).
    public static func writeCheckpoint(_ name: String, to directory: String, layers: Int? = nil, seed: UInt64 = 0) throws {
        guard var config = configs[name] else {
            throw TensorError("no real shape '\(name)' (known: \(configs.keys.sorted().joined(separator: ", ")))")
        }
        if let layers { config["num_hidden_layers"] = layers }
        let c = try ModelConfig(JSONFields(file: name, object: config))
        let h = c.hiddenSize, hd = c.headDim, q = c.headCount * hd, kv = c.kvHeadCount * hd
        var tensors: [(String, [Int], Bool)] = [("model.embed_tokens.weight", [c.vocabSize, h], false)]
        for i in 0..<c.layerCount {
            let p = "model.layers.\(i)."
            tensors += [(p + "input_layernorm.weight", [h], true), (p + "post_attention_layernorm.weight", [h], true),
                        (p + "self_attn.q_proj.weight", [q, h], false), (p + "self_attn.k_proj.weight", [kv, h], false),
                        (p + "self_attn.v_proj.weight", [kv, h], false), (p + "self_attn.o_proj.weight", [h, q], false),
                        (p + "mlp.gate_proj.weight", [c.intermediateSize, h], false), (p + "mlp.up_proj.weight", [c.intermediateSize, h], false),
                        (p + "mlp.down_proj.weight", [h, c.intermediateSize], false)]
            if c.qkvBias {
                tensors += [(p + "self_attn.q_proj.bias", [q], false), (p + "self_attn.k_proj.bias", [kv], false), (p + "self_attn.v_proj.bias", [kv], false)]
            }
        }
        tensors.append(("model.norm.weight", [h], true))
        if !c.tieWordEmbeddings { tensors.append(("lm_head.weight", [c.vocabSize, h], false)) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configData = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(configData, to: directory + "/config.json")
        let g = RandomGenerator(seed: seed)
        try SafeTensorsWriter.stream(tensors.map { ($0.0, $0.1) }, to: directory + "/model.safetensors", precision: .bf16) { index, chunk in
            if tensors[index].2 { chunk.update(repeating: 1) } else { g.fillNormal(chunk, std: 0.02) }
        }
    }
}
