import Foundation


/// What the backward pass needs from one block's forward pass.
struct BlockActivations {
    var input: Tensor, afterAttention: Tensor
    var attentionNormed: Tensor?, q: Tensor?, k: Tensor?, v: Tensor?, context: Tensor?
    var mlpNormed: Tensor?, gate: Tensor?, up: Tensor?, activation: Tensor?
}

extension LanguageModel {
    /// Mean next-token cross-entropy over `batch` sequences and the gradients of every parameter
    /// (the loss of `transformers` with `labels = input_ids`); targets equal to `ignoreIndex` are left out.
    /// With `distillation` targets (made by the dense model on these sequences) the loss is instead the mean KL
    /// from them over all positions, as `klDivergence` computes it (top-k targets: on their support, renormalised).
    public func lossAndGradients(tokens: [Int32], batch: Int, ignoreIndex: Int32? = nil,
                                 distillation: (target: TargetDistribution, firstSequence: Int)? = nil) throws -> (loss: Double, gradients: Gradients) {
        let grads = Gradients()
        let seq = tokens.count / batch
        guard seq >= 2 else { throw TensorError("train: sequences need at least 2 tokens, got \(seq)") }
        var x = try embed(tokens)
        let rope = ropeTables(length: seq)
        var saved: [BlockActivations] = []
        for block in blocks { saved.append(try trainingForward(block, &x, batch: batch, seq: seq, rope: rope)) }
        let finalInput = x
        let normed = LayerKernels.rmsNorm(finalInput, finalNorm, eps: config.rmsNormEps)
        let logits = try LayerKernels.linear(normed, lmHead, nil)
        // Loss and dlogits = (softmax - onehot) / count on predicting positions; last position of each sequence unused.
        let v = config.vocabSize
        // Cross-entropy writes every row of dlogits (zeros where nothing is predicted); distillation adds into zeros.
        let dlogits = distillation == nil ? Tensor(uninitializedShape: logits.shape) : Tensor(shape: logits.shape, repeating: 0)
        var loss = 0.0
        if let (target, first) = distillation {
            loss = try distillationLoss(logits, dlogits, target: target, firstSequence: first, batch: batch, seq: seq)
        } else {
        var count = 0
        for b in 0..<batch { for t in 1..<seq where tokens[b * seq + t] != ignoreIndex { count += 1 } }
        guard count > 0 else { throw TensorError("train: every target is the ignored id \(ignoreIndex ?? -1)") }
        // Rows in parallel, each vectorised: dlogits = softmax / count, minus 1 / count at the target.
        let rows = batch * seq, inverse = 1 / Float(count)
        var partial = [Double](repeating: 0, count: rows)
        tokens.withUnsafeBufferPointer { ids in
        partial.withUnsafeMutableBufferPointer { out in
            Parallel.forEachChunk(count: rows, minimumChunk: 16) { range in
                for r in range {
                    let row = logits.data + r * v, drow = dlogits.data + r * v
                    guard r % seq != seq - 1, ids[r + 1] != ignoreIndex else { drow.update(repeating: 0, count: v); continue }
                    let target = Int(ids[r + 1])
                    let lse = LanguageModel.logSumExp(row, v)
                    out[r] = Double(lse - row[target])
                    _ = VectorMath.expShifted(row, drow, v, shift: lse)
                    for j in 0..<v { drow[j] *= inverse }
                    drow[target] -= inverse
                }
            }
        }
        }
        loss = partial.reduce(0, +) / Double(count)
        }
        let dNormed = try BackwardKernels.linear(normed, lmHead, nil, dy: dlogits, grads: grads)
        var dx = try BackwardKernels.rmsNorm(finalInput, finalNorm, eps: config.rmsNormEps, dy: dNormed, grads: grads)
        for (block, acts) in zip(blocks, saved).reversed() {
            dx = try trainingBackward(block, acts, dx, batch: batch, seq: seq, rope: rope, grads: grads)
        }
        // Embedding rows receive the input gradient (and, when tied, the LM head gradient already added).
        let h = config.hiddenSize
        let dE = Tensor(shape: embedding.shape, repeating: 0)
        for (i, t) in tokens.enumerated() {
            let dst = dE.data + Int(t) * h, src = dx.data + i * h
            for j in 0..<h { dst[j] += src[j] }
        }
        try grads.accumulate(embedding, dE)
        return (loss, grads)
    }

    /// Mean KL(target ‖ model) over the batch's positions; writes its gradient with respect to the logits,
    /// `(q - p) / positions` on the target's support (q renormalised there for top-k targets).
    func distillationLoss(_ logits: Tensor, _ dlogits: Tensor, target: TargetDistribution, firstSequence: Int, batch: Int, seq: Int) throws -> Double {
        let v = config.vocabSize
        guard target.vocabSize == v, target.sequenceLength == seq, firstSequence >= 0, firstSequence + batch <= target.sequenceCount else {
            throw TensorError("train: distillation targets (\(target.sequenceCount)x\(target.sequenceLength), vocab \(target.vocabSize)) do not cover sequences \(firstSequence + 1)...\(firstSequence + batch) of length \(seq)")
        }
        let positions = Double(batch * seq)
        var loss = 0.0
        for r in 0..<(batch * seq) {
            let row = logits.data + r * v, drow = dlogits.data + r * v
            if let k = target.topK {
                let base = (firstSequence * seq + r) * k
                var m = -Float.infinity
                for j in 0..<k { m = max(m, row[Int(target.indices[base + j])]) }
                var z = 0.0
                for j in 0..<k { z += Double(Foundation.exp(row[Int(target.indices[base + j])] - m)) }
                let lse = Double(m) + Foundation.log(z)
                for j in 0..<k {
                    let id = Int(target.indices[base + j]), lp = Double(target.logProbs[base + j]), lq = Double(row[id]) - lse
                    loss += Foundation.exp(lp) * (lp - lq)
                    drow[id] = Float((Foundation.exp(lq) - Foundation.exp(lp)) / positions)
                }
            } else {
                let base = (firstSequence * seq + r) * v
                let lse = Double(LanguageModel.logSumExp(row, v))
                for j in 0..<v {
                    let lp = Double(target.logProbs[base + j]), lq = Double(row[j]) - lse
                    loss += Foundation.exp(lp) * (lp - lq)
                    drow[j] = Float((Foundation.exp(lq) - Foundation.exp(lp)) / positions)
                }
            }
        }
        return loss / positions
    }

    /// One block forward, keeping the activations its backward pass uses.
    func trainingForward(_ block: TransformerBlock, _ x: inout Tensor, batch: Int, seq: Int, rope: RopeTables) throws -> BlockActivations {
        var acts = BlockActivations(input: x, afterAttention: x)
        if let a = block.attention {
            let h = LayerKernels.rmsNorm(x, block.inputNorm, eps: config.rmsNormEps)
            let q = try LayerKernels.linear(h, a.q, a.qBias), k = try LayerKernels.linear(h, a.k, a.kBias)
            let v = try LayerKernels.linear(h, a.v, a.vBias)
            rope.apply(q, sequenceLength: seq, heads: a.queryHeads)
            rope.apply(k, sequenceLength: seq, heads: a.kvHeads)
            let context = LayerKernels.causalAttention(q: q, k: k, v: v, kvOfQuery: a.kvOfQuery, batch: batch, seq: seq, headDim: a.headDim)
            x = try x.binary(.add, try LayerKernels.linear(context, a.o, a.oBias))
            acts.attentionNormed = h; acts.q = q; acts.k = k; acts.v = v; acts.context = context
        }
        acts.afterAttention = x
        if let m = block.mlp {
            let h = LayerKernels.rmsNorm(x, block.postAttentionNorm, eps: config.rmsNormEps)
            let gate = try LayerKernels.linear(h, m.gate, m.gateBias), up = try LayerKernels.linear(h, m.up, m.upBias)
            let act = gate.clone()
            LayerKernels.swiglu(gate: act, up: up)
            x = try x.binary(.add, try LayerKernels.linear(act, m.down, m.downBias))
            acts.mlpNormed = h; acts.gate = gate; acts.up = up; acts.activation = act
        }
        return acts
    }

    /// One block backward: gradient of the block input from the gradient of its output.
    func trainingBackward(_ block: TransformerBlock, _ acts: BlockActivations, _ dOut: Tensor, batch: Int, seq: Int,
                          rope: RopeTables, grads: Gradients) throws -> Tensor {
        var dx = dOut
        if let m = block.mlp, let h = acts.mlpNormed, let gate = acts.gate, let up = acts.up, let act = acts.activation {
            let da = try BackwardKernels.linear(act, m.down, m.downBias, dy: dx, grads: grads)
            let (dg, du) = BackwardKernels.swiglu(gate: gate, up: up, da: da)
            let dh = try BackwardKernels.linear(h, m.gate, m.gateBias, dy: dg, grads: grads)
            _ = try BackwardKernels.linear(h, m.up, m.upBias, dy: du, grads: grads, addingInto: dh)
            dx = try dx.binary(.add, try BackwardKernels.rmsNorm(acts.afterAttention, block.postAttentionNorm, eps: config.rmsNormEps, dy: dh, grads: grads))
        }
        if let a = block.attention, let h = acts.attentionNormed, let q = acts.q, let k = acts.k, let v = acts.v, let context = acts.context {
            let dContext = try BackwardKernels.linear(context, a.o, a.oBias, dy: dx, grads: grads)
            let (dq, dk, dv) = BackwardKernels.causalAttention(q: q, k: k, v: v, kvOfQuery: a.kvOfQuery, batch: batch, seq: seq,
                                                               headDim: a.headDim, dContext: dContext)
            rope.apply(dq, sequenceLength: seq, heads: a.queryHeads, inverse: true)
            rope.apply(dk, sequenceLength: seq, heads: a.kvHeads, inverse: true)
            let dh = try BackwardKernels.linear(h, a.q, a.qBias, dy: dq, grads: grads)
            _ = try BackwardKernels.linear(h, a.k, a.kBias, dy: dk, grads: grads, addingInto: dh)
            _ = try BackwardKernels.linear(h, a.v, a.vBias, dy: dv, grads: grads, addingInto: dh)
            dx = try dx.binary(.add, try BackwardKernels.rmsNorm(acts.input, block.inputNorm, eps: config.rmsNormEps, dy: dh, grads: grads))
        }
        return dx
    }
}
