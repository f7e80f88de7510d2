import Foundation

/// Loads a Hugging Face checkpoint directory (`config.json` + safetensors) into a `LanguageModel`.
public enum ModelLoader {
    /// Loads `directory`. Tensor shapes are checked against the config; errors name the file and the tensor.
    /// Weight matrices stored as bf16/f16 stay 16-bit in memory unless `keepHalf` is false (then all float32).
    public static func load(directory: String, keepHalf: Bool = true) throws -> LanguageModel {
        let configPath = directory + "/config.json"
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw FormatError(file: directory, "not a model directory: config.json is missing")
        }
        let config = try ModelConfig(contentsOf: configPath)
        let weights = try CheckpointWeights(directory: directory)
        if weights.contains("model.layers.\(config.layerCount).input_layernorm.weight") {
            throw FormatError(file: configPath, "field 'num_hidden_layers' is \(config.layerCount), but the checkpoint has more layers (model.layers.\(config.layerCount).* exists)")
        }
        let h = config.hiddenSize, hd = config.headDim
        let embedding = try weights.weight("model.embed_tokens.weight", shape: [config.vocabSize, h], keepHalf: keepHalf)
        var blocks: [TransformerBlock] = []
        let layout = try PrunedLayout(config: config, file: configPath)
        for i in 0..<config.layerCount {
            let p = "model.layers.\(i)."
            func bias(_ name: String, _ n: Int, _ present: Bool) throws -> Tensor? {
                present ? try weights.tensor(p + name, shape: [n]) : nil
            }
            var attention: AttentionWeights? = nil
            let kvOfQuery = layout.kvOfQuery(layer: i)
            if !kvOfQuery.isEmpty {
                let nq = kvOfQuery.count, nkv = (kvOfQuery.max() ?? -1) + 1
                let qkv = config.fusedProjections
                    ? try split(weights.weight(p + "self_attn.qkv_proj.weight", shape: [(nq + 2 * nkv) * hd, h], keepHalf: keepHalf),
                                [nq * hd, nkv * hd, nkv * hd])
                    : try [("q_proj", nq), ("k_proj", nkv), ("v_proj", nkv)].map { name, heads in
                        try weights.weight(p + "self_attn.\(name).weight", shape: [heads * hd, h], keepHalf: keepHalf)
                    }
                attention = AttentionWeights(
                    q: qkv[0], k: qkv[1], v: qkv[2],
                    o: try weights.weight(p + "self_attn.o_proj.weight", shape: [h, nq * hd], keepHalf: keepHalf),
                    qBias: try bias("self_attn.q_proj.bias", nq * hd, config.qkvBias),
                    kBias: try bias("self_attn.k_proj.bias", nkv * hd, config.qkvBias),
                    vBias: try bias("self_attn.v_proj.bias", nkv * hd, config.qkvBias),
                    oBias: try bias("self_attn.o_proj.bias", h, config.outputBias),
                    qNorm: try bias("self_attn.q_norm.weight", hd, config.queryKeyNorm),
                    kNorm: try bias("self_attn.k_norm.weight", hd, config.queryKeyNorm),
                    kvOfQuery: kvOfQuery, headDim: hd)
            }
            var mlp: MLPWeights? = nil
            let width = layout.mlpWidth(layer: i)
            if width > 0 {
                let gateUp = config.fusedProjections
                    ? try split(weights.weight(p + "mlp.gate_up_proj.weight", shape: [2 * width, h], keepHalf: keepHalf), [width, width])
                    : try ["gate_proj", "up_proj"].map { try weights.weight(p + "mlp.\($0).weight", shape: [width, h], keepHalf: keepHalf) }
                mlp = MLPWeights(
                    gate: gateUp[0], up: gateUp[1],
                    down: try weights.weight(p + "mlp.down_proj.weight", shape: [h, width], keepHalf: keepHalf),
                    gateBias: try bias("mlp.gate_proj.bias", width, config.mlpBias),
                    upBias: try bias("mlp.up_proj.bias", width, config.mlpBias),
                    downBias: try bias("mlp.down_proj.bias", h, config.mlpBias))
            }
            attention?.denseHeads = layout.layers[i].denseHeads
            mlp?.denseNeurons = layout.layers[i].denseNeurons
            blocks.append(TransformerBlock(
                inputNorm: try weights.tensor(p + "input_layernorm.weight", shape: [h]),
                postAttentionNorm: try weights.tensor(p + "post_attention_layernorm.weight", shape: [h]),
                attention: attention, mlp: mlp, window: config.layerWindows[i]))
        }
        let finalNorm = try weights.tensor("model.norm.weight", shape: [h])
        let lmHead: Weight
        if weights.contains("lm_head.weight") && !config.tieWordEmbeddings {
            lmHead = try weights.weight("lm_head.weight", shape: [config.vocabSize, h], keepHalf: keepHalf)
        } else if config.tieWordEmbeddings {
            if weights.contains("lm_head.weight") {
                // transformers ties the head to the embeddings and ignores the stored matrix; so does darwinhost, and says so.
                FileHandle.standardError.write(Data("darwinhost: \(directory): tie_word_embeddings is true, so the stored lm_head.weight is ignored (the head is the embedding matrix, as in transformers)\n".utf8))
            }
            lmHead = embedding
        } else {
            throw FormatError(file: directory, "checkpoint has no tensor 'lm_head.weight' and tie_word_embeddings is false")
        }
        let model = LanguageModel(config: config, embedding: embedding, blocks: blocks, finalNorm: finalNorm, lmHead: lmHead)
        model.source = directory
        model.storagePrecision = try weights.storagePrecision(of: "model.embed_tokens.weight")
        return model
    }

    /// The consecutive row blocks of `fused` with `rows` rows each (Phi-3's `qkv_proj` and `gate_up_proj`).
    static func split(_ fused: Weight, _ rows: [Int]) throws -> [Weight] {
        var first = 0
        return try rows.map { n in
            defer { first += n }
            return try fused.selecting(rows: Array(first..<(first + n)))
        }
    }
}

/// Per-layer shapes: uniform from the config, or pruned ones from the `darwin_layers` config field that
/// darwinhost writes for non-uniform models (`[{"kv_of_query": [...], "mlp_width": n}, ...]`).
struct PrunedLayout {
    let layers: [(kvOfQuery: [Int], mlpWidth: Int, denseHeads: [Int]?, denseNeurons: [Int]?)]

    init(config: ModelConfig, file: String) throws {
        let groups = config.headCount / config.kvHeadCount
        let uniform = (kvOfQuery: (0..<config.headCount).map { $0 / groups }, mlpWidth: config.intermediateSize,
                       denseHeads: [Int]?.none, denseNeurons: [Int]?.none)
        guard let list = config.raw["darwin_layers"] as? [[String: Any]] else {
            layers = Array(repeating: uniform, count: config.layerCount)
            return
        }
        guard list.count == config.layerCount else {
            throw FormatError(file: file, "field 'darwin_layers' has \(list.count) entries, expected num_hidden_layers = \(config.layerCount)")
        }
        layers = try list.enumerated().map { i, entry in
            let fields = JSONFields(file: file, object: entry, prefix: "darwin_layers[\(i + 1)].")
            guard let kv = (try fields.array("kv_of_query") ?? []) as? [Int], kv.allSatisfy({ $0 >= 0 && $0 < config.kvHeadCount }) else {
                throw FormatError(file: file, "field 'darwin_layers[\(i + 1)].kv_of_query' must list KV head indices in 0..<\(config.kvHeadCount)")
            }
            let width = try fields.int("mlp_width")
            // Optional (older saves lack them): the dense indices of the kept heads and neurons, checked.
            func indices(_ key: String, count: Int, below limit: Int) throws -> [Int]? {
                guard fields.has(key) else { return nil }
                guard let list = (try fields.array(key)) as? [Int], list.count == count, list.allSatisfy({ $0 >= 0 && $0 < limit }),
                      zip(list, list.dropFirst()).allSatisfy({ $0 < $1 }) else {
                    throw FormatError(file: file, "field 'darwin_layers[\(i + 1)].\(key)' must list \(count) increasing indices in 0..<\(limit)")
                }
                return list
            }
            return (kv, width, try indices("dense_heads", count: kv.count, below: config.headCount),
                    try indices("dense_neurons", count: width, below: config.intermediateSize))
        }
    }

    func kvOfQuery(layer: Int) -> [Int] { layers[layer].kvOfQuery }
    func mlpWidth(layer: Int) -> Int { layers[layer].mlpWidth }
}
