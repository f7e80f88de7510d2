/// How rotary position embeddings are computed.
public struct RopeSettings: Equatable {
    /// Scaling variants of `rope_scaling` / `rope_parameters`.
    public enum Scaling: Equatable {
        case none
        /// Positions divided by `factor`.
        case linear(factor: Double)
        /// Llama 3.1 frequency-dependent scaling.
        case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Int)
    }
    /// Base of the frequencies (`rope_theta`).
    public var theta: Double
    /// Scaling applied to the frequencies.
    public var scaling: Scaling
    /// The fraction of each head's dimensions that is rotated (`partial_rotary_factor`; the rest passes through).
    public var partialRotaryFactor: Double = 1

    /// Dimensions rotated in a head of `headDim` (transformers truncates the product).
    public func rotaryDimensions(headDim: Int) -> Int { Int(Double(headDim) * partialRotaryFactor) }

    /// Inverse frequencies for rotary dimension `dim` (HF `inv_freq`), after scaling.
    public func inverseFrequencies(dim: Int) -> [Double] {
        let base = (0..<(dim / 2)).map { 1 / _pow(theta, Double(2 * $0) / Double(dim)) }
        switch scaling {
        case .none: return base
        case .linear(let factor): return base.map { $0 / factor }
        case .llama3(let factor, let low, let high, let original):
            let lowWavelen = Double(original) / low, highWavelen = Double(original) / high
            return base.map { f in
                let wavelen = 2 * Double.pi / f
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / factor }
                let smooth = (Double(original) / wavelen - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
    }
}

import Foundation
@inline(__always) private func _pow(_ a: Double, _ b: Double) -> Double { Foundation.pow(a, b) }

/// The architecture hyperparameters of a checkpoint (`config.json`), for the Llama family and its relatives.
public struct ModelConfig {
    /// Architectures darwinhost loads.
    public enum Architecture: String, CaseIterable {
        case llama = "LlamaForCausalLM", mistral = "MistralForCausalLM", qwen2 = "Qwen2ForCausalLM", qwen3 = "Qwen3ForCausalLM"
        case phi3 = "Phi3ForCausalLM"
        /// The config's `model_type` for this architecture.
        public var modelType: String {
            switch self {
            case .llama: return "llama"
            case .mistral: return "mistral"
            case .qwen2: return "qwen2"
            case .qwen3: return "qwen3"
            case .phi3: return "phi3"
            }
        }
    }

    public var architecture: Architecture
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var rmsNormEps: Double
    public var rope: RopeSettings
    public var tieWordEmbeddings: Bool
    /// Bias on q, k, v projections.
    public var qkvBias: Bool
    /// Bias on the output projection.
    public var outputBias: Bool
    /// Bias on gate, up, down projections.
    public var mlpBias: Bool
    /// Per-head RMSNorm of queries and keys before RoPE (Qwen3's `q_norm` / `k_norm`).
    public var queryKeyNorm: Bool
    /// Checkpoints store q, k, v as one `qkv_proj` and gate, up as one `gate_up_proj` (Phi-3); darwinhost splits them
    /// on loading and joins them again on saving.
    public var fusedProjections: Bool { architecture == .phi3 }
    public var maxPositions: Int
    /// The attention window of each layer (nil: full causal attention): Mistral's `sliding_window` on every layer;
    /// Qwen2's and Qwen3's with `use_sliding_window`, on the layers `layer_types` marks `sliding_attention` (or, in
    /// configs without that list, from `max_window_layers` on), as transformers decides.
    public var layerWindows: [Int?]
    /// Beginning- and end-of-sequence token ids when the config names them.
    public var bosTokenId: Int?, eosTokenId: Int?
    /// The parsed JSON, kept so that saving preserves fields darwinhost does not interpret.
    public var raw: [String: Any]

    /// Parses `config.json` at `path`.
    public init(contentsOf path: String) throws { try self.init(JSONFields(contentsOf: path)) }

    /// Parses a config object; errors name the file and the field.
    public init(_ json: JSONFields) throws {
        raw = json.object
        let name = (try json.array("architectures"))?.first as? String
        let supported = Architecture.allCases.map(\.rawValue).joined(separator: ", ")
        if let name {
            guard let a = Architecture(rawValue: name) else {
                throw FormatError(file: json.file, "architecture \(name) is not supported (supported: \(supported))")
            }
            architecture = a
        } else {
            let type = try json.string("model_type", "")
            guard let a = Architecture.allCases.first(where: { $0.modelType == type }) else {
                throw FormatError(file: json.file, "field 'architectures' is missing and model_type '\(type)' is not one of \(Architecture.allCases.map(\.modelType).joined(separator: ", ")) (supported: \(supported))")
            }
            architecture = a
        }
        vocabSize = try json.int("vocab_size")
        hiddenSize = try json.int("hidden_size")
        intermediateSize = try json.int("intermediate_size")
        layerCount = try json.int("num_hidden_layers")
        headCount = try json.int("num_attention_heads")
        kvHeadCount = try json.int("num_key_value_heads", headCount)
        headDim = try json.int("head_dim", headCount > 0 ? hiddenSize / headCount : 0)
        rmsNormEps = try json.double("rms_norm_eps", 1e-6)
        maxPositions = try json.int("max_position_embeddings", 2048)
        tieWordEmbeddings = try json.bool("tie_word_embeddings", false)
        let attentionBias = try json.bool("attention_bias", false)
        qkvBias = architecture == .qwen2 ? true : attentionBias
        outputBias = architecture == .qwen2 ? false : attentionBias
        mlpBias = try json.bool("mlp_bias", false)
        queryKeyNorm = architecture == .qwen3
        bosTokenId = json.has("bos_token_id") ? try json.int("bos_token_id") : nil
        let eos = (json.object["eos_token_id"] as? NSNumber) ?? (json.object["eos_token_id"] as? [NSNumber])?.first
        eosTokenId = eos.flatMap { Swift.abs($0.doubleValue) < 2e9 ? $0.intValue : nil }
        rope = try ModelConfig.parseRope(json)
        // Fields that change the computation: implemented, or refused here, never ignored.
        let activation = try json.string("hidden_act", "silu")
        guard activation == "silu" || activation == "swish" else {
            throw FormatError(file: json.file, "field 'hidden_act' is '\(activation)'; darwinhost implements the SwiGLU MLP with silu only")
        }
        layerWindows = []
        // Sizes far beyond any real model would overflow the arithmetic of shapes: bound them.
        for (field, value, limit) in [("vocab_size", vocabSize, 1 << 24), ("hidden_size", hiddenSize, 1 << 17),
                                      ("intermediate_size", intermediateSize, 1 << 20), ("num_hidden_layers", layerCount, 1 << 12),
                                      ("num_attention_heads", headCount, 1 << 12), ("num_key_value_heads", kvHeadCount, 1 << 12),
                                      ("head_dim", headDim, 1 << 12), ("max_position_embeddings", maxPositions, 1 << 24)]
        where value <= 0 || value > limit {
            throw FormatError(file: json.file, "field '\(field)' must be an integer in 1...\(limit), found \(value)")
        }
        // After the bounds above: one entry per layer.
        layerWindows = try ModelConfig.parseWindows(json, architecture: architecture, layers: layerCount)
        guard rmsNormEps > 0 else { throw FormatError(file: json.file, "field 'rms_norm_eps' must be positive, found \(rmsNormEps)") }
        guard rope.theta > 0 else { throw FormatError(file: json.file, "field 'rope_theta' must be positive, found \(rope.theta)") }
        if let bos = bosTokenId, bos < 0 || bos >= vocabSize {
            throw FormatError(file: json.file, "field 'bos_token_id' must be in 0..<\(vocabSize) (vocab_size), found \(bos)")
        }
        guard headCount % kvHeadCount == 0 else {
            throw FormatError(file: json.file, "field 'num_attention_heads' (\(headCount)) must be a multiple of 'num_key_value_heads' (\(kvHeadCount))")
        }
        guard headDim % 2 == 0 else { throw FormatError(file: json.file, "field 'head_dim' must be even for rotary embeddings, found \(headDim)") }
        let rotary = rope.rotaryDimensions(headDim: headDim)
        guard rotary >= 2, rotary % 2 == 0 else {
            throw FormatError(file: json.file, "field 'partial_rotary_factor' (\(rope.partialRotaryFactor)) rotates \(rotary) of the \(headDim) dimensions of a head; that must be an even number of at least 2")
        }
    }

    /// Per-layer attention windows (see `layerWindows`).
    static func parseWindows(_ json: JSONFields, architecture: Architecture, layers: Int) throws -> [Int?] {
        guard architecture != .llama else { return Array(repeating: nil, count: max(layers, 0)) }
        var window: Int? = nil
        if json.has("sliding_window") && !(json.object["sliding_window"] is NSNull) {
            let value = try json.int("sliding_window")
            guard value > 0 else { throw FormatError(file: json.file, "field 'sliding_window' must be a positive integer or null, found \(value)") }
            window = value
        }
        if architecture == .mistral || architecture == .phi3 { return Array(repeating: window, count: max(layers, 0)) }
        // Qwen2 / Qwen3: the window applies only with use_sliding_window, and only on the layers it names.
        guard try json.bool("use_sliding_window", false), let window else { return Array(repeating: nil, count: max(layers, 0)) }
        if let types = try json.array("layer_types") {
            guard types.count == layers else {
                throw FormatError(file: json.file, "field 'layer_types' has \(types.count) entries, expected num_hidden_layers = \(layers)")
            }
            return try types.enumerated().map { i, type in
                switch type as? String {
                case "full_attention": return nil
                case "sliding_attention": return window
                default: throw FormatError(file: json.file, "field 'layer_types[\(i + 1)]' is '\(type)', expected 'full_attention' or 'sliding_attention'")
                }
            }
        }
        let first = try json.int("max_window_layers", 0)
        return (0..<max(layers, 0)).map { $0 >= first ? window : nil }
    }

    /// RoPE from `rope_parameters` (newer layout) or `rope_theta` + `rope_scaling` (older layout).
    static func parseRope(_ json: JSONFields) throws -> RopeSettings {
        let params = try json.nested("rope_parameters") ?? json.nested("rope_scaling")
        let theta = try json.nested("rope_parameters")?.double("rope_theta", nil) ?? json.double("rope_theta", 10000)
        let layout = try json.nested("rope_parameters")
        let partial = try layout.map { $0.has("partial_rotary_factor") } == true
            ? layout!.double("partial_rotary_factor") : json.double("partial_rotary_factor", 1)
        guard partial > 0 && partial <= 1 else {
            throw FormatError(file: json.file, "field 'partial_rotary_factor' must be in (0, 1], found \(partial)")
        }
        guard let params else { return RopeSettings(theta: theta, scaling: .none, partialRotaryFactor: partial) }
        let type = try params.has("rope_type") ? params.string("rope_type") : params.string("type", "default")
        switch type {
        case "default": return RopeSettings(theta: theta, scaling: .none, partialRotaryFactor: partial)
        case "linear": return RopeSettings(theta: theta, scaling: .linear(factor: try params.double("factor")), partialRotaryFactor: partial)
        case "llama3":
            return RopeSettings(theta: theta, scaling: .llama3(
                factor: try params.double("factor"), lowFreqFactor: try params.double("low_freq_factor"),
                highFreqFactor: try params.double("high_freq_factor"),
                originalMaxPositions: try params.int("original_max_position_embeddings")), partialRotaryFactor: partial)
        default:
            throw FormatError(file: json.file, "field '\(params.prefix)rope_type' is '\(type)'; supported: default, linear, llama3")
        }
    }
}
