/// One parameter of a model: a weight matrix (float32 or 16-bit) or a float32 vector (norm, bias).
public enum ModelParameter {
    case matrix(Weight)
    case vector(Tensor)

    /// The shape.
    public var shape: [Int] {
        switch self {
        case .matrix(let w): return w.shape
        case .vector(let t): return t.shape
        }
    }

    /// The values as float32 without changing the parameter (a 16-bit matrix is converted into a new tensor).
    public func floatValues() -> Tensor {
        switch self {
        case .matrix(let w): return w.floatValues()
        case .vector(let t): return t
        }
    }
}

extension LanguageModel {
    /// The model's parameters under their Hugging Face names (`model.layers.0.self_attn.q_proj.weight`, ...), as held:
    /// reading them converts nothing. Tied embeddings appear once, as `model.embed_tokens.weight`.
    public var namedWeights: [(String, ModelParameter)] {
        var out: [(String, ModelParameter)] = [("model.embed_tokens.weight", .matrix(embedding))]
        for (i, b) in blocks.enumerated() {
            let p = "model.layers.\(i)."
            out.append((p + "input_layernorm.weight", .vector(b.inputNorm)))
            if let a = b.attention {
                for (n, w) in [("q_proj", a.q), ("k_proj", a.k), ("v_proj", a.v), ("o_proj", a.o)] { out.append((p + "self_attn.\(n).weight", .matrix(w))) }
                for (n, t) in [("q_proj", a.qBias), ("k_proj", a.kBias), ("v_proj", a.vBias), ("o_proj", a.oBias)] {
                    if let t { out.append((p + "self_attn.\(n).bias", .vector(t))) }
                }
                for (n, t) in [("q_norm", a.qNorm), ("k_norm", a.kNorm)] { if let t { out.append((p + "self_attn.\(n).weight", .vector(t))) } }
            }
            out.append((p + "post_attention_layernorm.weight", .vector(b.postAttentionNorm)))
            if let m = b.mlp {
                for (n, w) in [("gate_proj", m.gate), ("up_proj", m.up), ("down_proj", m.down)] { out.append((p + "mlp.\(n).weight", .matrix(w))) }
                for (n, t) in [("gate_proj", m.gateBias), ("up_proj", m.upBias), ("down_proj", m.downBias)] {
                    if let t { out.append((p + "mlp.\(n).bias", .vector(t))) }
                }
            }
        }
        out.append(("model.norm.weight", .vector(finalNorm)))
        if !tiedEmbeddings { out.append(("lm_head.weight", .matrix(lmHead))) }
        return out
    }

    /// The model's trainable tensors under their Hugging Face names, as float32 tensors that are the parameters
    /// themselves (16-bit weight matrices become float32 for good: see `Weight.tensor`).
    public var namedParameters: [(String, Tensor)] {
        namedWeights.map { name, p in
            switch p {
            case .matrix(let w): return (name, w.tensor)
            case .vector(let t): return (name, t)
            }
        }
    }
}

/// Gradients keyed by the parameter tensor they belong to.
public final class Gradients {
    private var table: [ObjectIdentifier: Tensor] = [:]
    /// The parameters whose gradients are wanted (nil: all); others are neither computed nor kept.
    let trainable: Set<ObjectIdentifier>?

    /// Gradients of every parameter, or with `trainable` only of those tensors.
    public init(trainable: [Tensor]? = nil) { self.trainable = trainable.map { Set($0.map(ObjectIdentifier.init)) } }

    /// True when the gradient of `parameter` is wanted.
    func wants(_ parameter: Tensor) -> Bool { trainable?.contains(ObjectIdentifier(parameter)) ?? true }

    /// True when the gradient of `weight` is wanted. With a `trainable` list a 16-bit weight never is (trained weights
    /// are float32 masters); without one every weight is, and a 16-bit one becomes float32 (see `Weight.tensor`).
    func wants(_ weight: Weight) -> Bool {
        guard trainable != nil else { return true }
        return weight.half == nil && wants(weight.tensor)
    }

    /// Removes and returns the gradient of `parameter` (an optimizer that has applied it frees it this way).
    func take(_ parameter: Tensor) -> Tensor? { table.removeValue(forKey: ObjectIdentifier(parameter)) }

    /// The gradient of `parameter`, if any was accumulated.
    public subscript(_ parameter: Tensor) -> Tensor? { table[ObjectIdentifier(parameter)] }

    /// Adds `g` into the gradient of `parameter`.
    public func accumulate(_ parameter: Tensor, _ g: Tensor) throws {
        guard wants(parameter) else { return }
        if let existing = table[ObjectIdentifier(parameter)] { try existing.binaryInPlace(.add, g) } else { table[ObjectIdentifier(parameter)] = g.contiguous() === g ? g : g.clone() }
    }

    /// Adds `dyᵀ x` (the weight gradient of a linear layer, `dy [rows, out]`, `x [rows, in]`) into the gradient of
    /// `parameter` inside the product itself (beta 1) when there is one: no `[out, in]` temporary and no pass to add it.
    func accumulateProduct(_ parameter: Tensor, dy: Tensor, x: Tensor) throws {
        guard wants(parameter) else { return }
        let dyc = dy.contiguous(), xc = x.contiguous()
        let rows = dyc.shape[0], outputs = dyc.shape[1], inputs = xc.shape[1]
        let existing = table[ObjectIdentifier(parameter)]
        guard existing.map({ $0.isContiguous && $0.shape == [outputs, inputs] }) ?? true, xc.shape[0] == rows else {
            try accumulate(parameter, try dy.t().matmul(x))
            return
        }
        let target = existing ?? Tensor(uninitializedShape: [outputs, inputs])
        sgemm(GemmOperand(pointer: dyc.data, transposed: true, leadingDimension: outputs),
              GemmOperand(pointer: xc.data, transposed: false, leadingDimension: inputs),
              target.data, m: outputs, n: inputs, k: rows, ldc: inputs, beta: existing == nil ? 0 : 1)
        if existing == nil { table[ObjectIdentifier(parameter)] = target }
    }

    /// Moves the gradients of `parameters` (every one when nil) out of this set and adds them into `sum`'s.
    func move(_ parameters: [Tensor]?, into sum: Gradients) throws {
        let keys = parameters.map { $0.map(ObjectIdentifier.init) } ?? Array(table.keys)
        for key in keys {
            guard let g = table.removeValue(forKey: key) else { continue }
            if let existing = sum.table[key] { try existing.binaryInPlace(.add, g) } else { sum.table[key] = g }
        }
    }

    /// Scales every gradient (gradient accumulation, clipping).
    func scale(by s: Float) { for g in table.values { g.binaryInPlace(.mul, scalar: s) } }

    /// Global L2 norm over all gradients (float64 accumulation).
    public func globalNorm() -> Double { table.values.map { let n = $0.norm(); return n * n }.reduce(0, +).squareRoot() }

    /// Number of gradient tensors.
    public var count: Int { table.count }
}
