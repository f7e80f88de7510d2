/// The model's trainable tensors under their Hugging Face names (`model.layers.0.self_attn.q_proj.weight`, ...).
/// Tied embeddings appear once, as `model.embed_tokens.weight`.
extension LanguageModel {
    public var namedParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = [("model.embed_tokens.weight", embedding)]
        for (i, b) in blocks.enumerated() {
            let p = "model.layers.\(i)."
            out.append((p + "input_layernorm.weight", b.inputNorm))
            if let a = b.attention {
                for (n, t) in [("q_proj", a.q), ("k_proj", a.k), ("v_proj", a.v), ("o_proj", a.o)] { out.append((p + "self_attn.\(n).weight", t)) }
                for (n, t) in [("q_proj", a.qBias), ("k_proj", a.kBias), ("v_proj", a.vBias), ("o_proj", a.oBias)] {
                    if let t { out.append((p + "self_attn.\(n).bias", t)) }
                }
            }
            out.append((p + "post_attention_layernorm.weight", b.postAttentionNorm))
            if let m = b.mlp {
                for (n, t) in [("gate_proj", m.gate), ("up_proj", m.up), ("down_proj", m.down)] { out.append((p + "mlp.\(n).weight", t)) }
                for (n, t) in [("gate_proj", m.gateBias), ("up_proj", m.upBias), ("down_proj", m.downBias)] {
                    if let t { out.append((p + "mlp.\(n).bias", t)) }
                }
            }
        }
        out.append(("model.norm.weight", finalNorm))
        if lmHead !== embedding { out.append(("lm_head.weight", lmHead)) }
        return out
    }
}

/// Gradients keyed by the parameter tensor they belong to.
public final class Gradients {
    private var table: [ObjectIdentifier: Tensor] = [:]

    public init() {}

    /// The gradient of `parameter`, if any was accumulated.
    public subscript(_ parameter: Tensor) -> Tensor? { table[ObjectIdentifier(parameter)] }

    /// Adds `g` into the gradient of `parameter`.
    public func accumulate(_ parameter: Tensor, _ g: Tensor) throws {
        if let existing = table[ObjectIdentifier(parameter)] { try existing.binaryInPlace(.add, g) } else { table[ObjectIdentifier(parameter)] = g.contiguous() === g ? g : g.clone() }
    }

    /// Scales every gradient (gradient accumulation, clipping).
    func scale(by s: Float) { for g in table.values { g.binaryInPlace(.mul, scalar: s) } }

    /// Global L2 norm over all gradients (float64 accumulation).
    public func globalNorm() -> Double { table.values.map { let n = $0.norm(); return n * n }.reduce(0, +).squareRoot() }

    /// Number of gradient tensors.
    public var count: Int { table.count }
}
