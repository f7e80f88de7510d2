import Foundation

/// Saves a model as a Hugging Face checkpoint directory (`config.json` + `model.safetensors`).
/// A model with uniform shapes is loadable by `transformers` as is; a pruned model records its per-block
/// shapes in the config field `darwin_layers`, which darwinhost reads back.
public enum ModelSaver {
    public static func save(_ model: LanguageModel, to directory: String, precision: SafeTensorsWriter.Precision = .f32) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = model.config.raw
        let c = model.config
        let uniform = model.blocks.allSatisfy {
            $0.attention?.kvOfQuery == (0..<c.headCount).map { $0 / (c.headCount / c.kvHeadCount) } && $0.mlp?.width == c.intermediateSize
        }
        if uniform { config.removeValue(forKey: "darwin_layers") } else {
            config["darwin_layers"] = model.blocks.map { b -> [String: Any] in
                ["kv_of_query": b.attention?.kvOfQuery ?? [], "mlp_width": b.mlp?.width ?? 0]
            }
        }
        config["torch_dtype"] = ["float32", "bfloat16", "float16"][[.f32, .bf16, .f16].firstIndex(of: precision)!]
        config.removeValue(forKey: "dtype")
        var tensors = model.namedParameters
        if model.lmHead === model.embedding { config["tie_word_embeddings"] = true } else {
            config["tie_word_embeddings"] = false
            if !tensors.contains(where: { $0.0 == "lm_head.weight" }) { tensors.append(("lm_head.weight", model.lmHead)) }
        }
        try SafeTensorsWriter.write(tensors, to: directory + "/model.safetensors", metadata: ["format": "pt"], precision: precision)
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json, to: directory + "/config.json")
    }
}
