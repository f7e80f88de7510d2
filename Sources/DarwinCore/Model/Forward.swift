/// The forward pass of a `LanguageModel` on a batch of equal-length token sequences.
extension LanguageModel {
    /// What a forward pass returns.
    public struct ForwardResult {
        /// `[batch, seq, vocab]` next-token logits.
        public let logits: Tensor
        /// When requested: the embeddings output and the output of every block, each `[batch, seq, hidden]`
        /// (the last entry is before the final norm).
        public let hiddenStates: [Tensor]
    }

    /// Runs the model on `tokens` (`batch` rows of `seq` ids). Ids must be in `0..<vocab`.
    public func forward(tokens: [Int32], batch: Int, keepHiddenStates: Bool = false) throws -> ForwardResult {
        // The full logits and one block's activations (and every block's output when kept), checked up front.
        let n = Double(tokens.count), h = Double(config.hiddenSize)
        try MemoryLimit.require(4 * n * (Double(config.vocabSize) + blockWorkingFloats() + (keepHiddenStates ? h * Double(blocks.count + 1) : 0)),
                                for: "a forward pass of \(tokens.count) tokens")
        let hidden = try self.hidden(tokens: tokens, batch: batch, keepHiddenStates: keepHiddenStates)
        let seq = tokens.count / batch
        let normed = LayerKernels.rmsNorm(hidden.last, finalNorm, eps: config.rmsNormEps)
        let logits = try LayerKernels.linear(normed, lmHead, nil).reshape([batch, seq, config.vocabSize])
        return ForwardResult(logits: logits, hiddenStates: try hidden.states.map { try $0.reshape([batch, seq, config.hiddenSize]) })
    }

    /// Runs the embeddings and all blocks; returns the last hidden state `[batch*seq, hidden]` (before the final norm).
    func hidden(tokens: [Int32], batch: Int, keepHiddenStates: Bool) throws -> (last: Tensor, states: [Tensor]) {
        guard batch > 0, tokens.count % batch == 0, !tokens.isEmpty else {
            throw TensorError("forward: \(tokens.count) tokens do not split into \(batch) equal sequences")
        }
        let seq = tokens.count / batch
        if !keepHiddenStates, let parts = Parallel.sequenceParts(batch: batch) {
            try checkTokenIds(tokens)
            return (try hiddenInParts(tokens, batch: batch, parts: parts), [])
        }
        var x = try embed(tokens)
        var states: [Tensor] = keepHiddenStates ? [x.clone()] : []
        let rope = ropeTables(length: seq)
        for block in blocks {
            try runBlock(block, &x, batch: batch, seq: seq, rope: rope)
            if keepHiddenStates { states.append(x.clone()) }
        }
        return (x, states)
    }

    /// The last hidden state of `batch` sequences split into `parts` equal parts that run at the same time, each on one
    /// worker whose products, attention and loops are not split again: the workers never wait for each other inside
    /// the pass (on a machine whose cores change speed from moment to moment, splitting every product leaves one
    /// waiting at each). The values of one pass over the whole batch, up to the last bits of float32 sums.
    private func hiddenInParts(_ tokens: [Int32], batch: Int, parts: Int) throws -> Tensor {
        let partTokens = tokens.count / parts, h = config.hiddenSize
        let out = Tensor(uninitializedShape: [tokens.count, h])
        _ = try Parallel.mapParts(parts) { part in
            let x = try hidden(tokens: Array(tokens[(part * partTokens)..<((part + 1) * partTokens)]), batch: batch / parts,
                               keepHiddenStates: false).last.contiguous()
            (out.data + part * partTokens * h).update(from: x.data, count: partTokens * h)
        }
        return out
    }

    /// Throws unless every id is in `0..<vocab`, naming the first bad one by its position in `tokens` (checked on the
    /// whole batch before it is split by sequences, so that the position is the batch's, not a part's).
    func checkTokenIds(_ tokens: [Int32]) throws {
        let vocab = config.vocabSize
        if let bad = tokens.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
            throw TensorError("forward: token id \(tokens[bad]) at position \(bad + 1) is outside the vocabulary 0..<\(vocab)")
        }
    }

    /// Floats per token that one block's forward pass holds at once (residual, normed input, q/k/v, context, MLP).
    func blockWorkingFloats() -> Double {
        let widest = blocks.map { b -> Int in
            let attention = b.attention.map { 2 * $0.q.shape[0] + 2 * $0.k.shape[0] } ?? 0
            return attention + 2 * (b.mlp?.width ?? 0)
        }.max() ?? 0
        return Double(3 * config.hiddenSize + widest)
    }

    /// Gathers embedding rows: `[tokens, hidden]`.
    func embed(_ tokens: [Int32]) throws -> Tensor {
        let h = config.hiddenSize
        try checkTokenIds(tokens)
        let x = Tensor(uninitializedShape: [tokens.count, h])
        for (i, t) in tokens.enumerated() { embedding.convertRows(Int(t)..<(Int(t) + 1), into: x.data + i * h) }
        return x
    }

    /// Inputs of the two pruned projections, offered to an observer during a block's forward pass.
    public enum ProjectionInput {
        /// The attention context entering `o_proj`: `[tokens, queryHeads * headDim]`.
        case attentionOutput(Tensor)
        /// The SwiGLU activation entering `down_proj`: `[tokens, width]`.
        case mlpDown(Tensor)
    }

    /// One decoder block, updating the residual stream `x` in place; `observe` sees the projection inputs.
    func runBlock(_ block: TransformerBlock, _ x: inout Tensor, batch: Int, seq: Int, rope: RopeTables,
                  observe: ((ProjectionInput) throws -> Void)? = nil) throws {
        try Interrupt.check()
        if let a = block.attention {
            let (q, k, v) = try queryKeyValue(a, LayerKernels.rmsNorm(x, block.inputNorm, eps: config.rmsNormEps), seq: seq, rope: rope)
            let context = LayerKernels.causalAttention(q: q, k: k, v: v, kvOfQuery: a.kvOfQuery, batch: batch, seq: seq, headDim: a.headDim,
                                                       window: block.window)
            try observe?(.attentionOutput(context))
            try LayerKernels.linear(context, a.o, a.oBias, addingInto: x)
        }
        if let m = block.mlp { try mlpForward(m, normedBy: block.postAttentionNorm, into: x, observe: observe) }
    }

    /// The queries and keys (normalised per head where the family does, then rotated for positions
    /// `firstPosition + row % seq`) and the values of a block's normed input `h`. `record` receives the queries and
    /// keys before their per-head norms (what the backward pass of those norms needs).
    func queryKeyValue(_ a: AttentionWeights, _ h: Tensor, seq: Int, rope: RopeTables, firstPosition: Int = 0,
                       record: ((Tensor, Tensor) -> Void)? = nil) throws -> (Tensor, Tensor, Tensor) {
        var q = try LayerKernels.linear(h, a.q, a.qBias), k = try LayerKernels.linear(h, a.k, a.kBias)
        let v = try LayerKernels.linear(h, a.v, a.vBias)
        record?(q, k)
        if let norm = a.qNorm { q = try perHeadNorm(q, norm, headDim: a.headDim) }
        if let norm = a.kNorm { k = try perHeadNorm(k, norm, headDim: a.headDim) }
        rope.apply(q, sequenceLength: seq, heads: a.queryHeads, firstPosition: firstPosition)
        rope.apply(k, sequenceLength: seq, heads: a.kvHeads, firstPosition: firstPosition)
        return (q, k, v)
    }

    /// RMSNorm of each head's `headDim` values: `x` `[rows, heads*headDim]` seen as `[rows*heads, headDim]`.
    func perHeadNorm(_ x: Tensor, _ weight: Tensor, headDim: Int) throws -> Tensor {
        let rows = x.shape[0], width = x.shape[1]
        return try LayerKernels.rmsNorm(x.contiguous().reshape([rows * width / headDim, headDim]), weight, eps: config.rmsNormEps)
            .reshape([rows, width])
    }

    /// The MLP of a block added into the residual stream `x` (normalised with `norm` first); `observe` sees the input
    /// of `down_proj`.
    func mlpForward(_ m: MLPWeights, normedBy norm: Tensor, into x: Tensor, observe: ((ProjectionInput) throws -> Void)? = nil) throws {
        let h = LayerKernels.rmsNorm(x, norm, eps: config.rmsNormEps)
        let gate = try LayerKernels.linear(h, m.gate, m.gateBias)
        LayerKernels.swiglu(gate: gate, up: try LayerKernels.linear(h, m.up, m.upBias))
        try observe?(.mlpDown(gate))
        try LayerKernels.linear(gate, m.down, m.downBias, addingInto: x)
    }
}
