import CDarwinSupport
import Foundation


/// What the backward pass needs from one block's forward pass.
struct BlockActivations {
    var input: Tensor, afterAttention: Tensor
    var attentionNormed: Tensor?, q: Tensor?, k: Tensor?, v: Tensor?, context: Tensor?
    /// Queries and keys before their per-head norms (families with `q_norm` / `k_norm`).
    var rawQuery: Tensor?, rawKey: Tensor?
    var mlpNormed: Tensor?, gate: Tensor?, up: Tensor?, activation: Tensor?

    /// What is kept between the forward and the backward pass: without the normed inputs and the SwiGLU output, which
    /// the backward pass recomputes from the block's input, its attention output and gate/up (cheap elementwise work:
    /// the matrix products are not repeated), a third less memory.
    var kept: BlockActivations {
        var slim = self
        slim.attentionNormed = nil; slim.mlpNormed = nil; slim.activation = nil
        return slim
    }
}

extension LanguageModel {
    /// Mean next-token cross-entropy over `batch` sequences and the gradients of every parameter
    /// (the loss of `transformers` with `labels = input_ids`); targets equal to `ignoreIndex` are left out.
    /// With `distillation` targets (made by the dense model on these sequences) the loss is instead the mean KL
    /// from them over all positions, as `klDivergence` computes it (top-k targets: on their support, renormalised).
    /// The head and loss run on chunks of tokens (`headChunkRows`, larger when activations are kept:
    /// `headChunkRows(besides:)`; or `headChunkRows` given here). With `recompute`
    /// (by default: when the activations of all blocks would take more than 1 GiB, or an eighth of the memory available) only
    /// each block's input is kept during the forward pass and the block's activations are recomputed just before its
    /// backward pass: one more forward pass of compute (a step about 35% slower) for the activation memory of one
    /// block instead of all. With `trainable`, only those tensors' gradients are computed and kept (16-bit weights
    /// are never trained). `mlpChunkRows` overrides the rows per chunk of the recomputed MLP (tests). `blockDone` is called with the block after each block's MLP backward pass and after its
    /// whole backward pass, when the gradients present are complete, and at the end with nil (an optimizer can apply
    /// and free each block's gradients right away, the MLP's before the attention's are computed). `lossDivisor`:
    /// see `headLossAndGradient` (these sequences as one part of a larger batch).
    public func lossAndGradients(tokens: [Int32], batch: Int, ignoreIndex: Int32? = nil,
                                 distillation: (target: TargetDistribution, firstSequence: Int)? = nil,
                                 headChunkRows chunkRows: Int? = nil, recompute: Bool? = nil, mlpChunkRows: Int? = nil, trainable: [Tensor]? = nil,
                                 lossDivisor: Int? = nil,
                                 blockDone: ((TransformerBlock?, Gradients) throws -> Void)? = nil) throws -> (loss: Double, gradients: Gradients) {
        let grads = Gradients(trainable: trainable)
        guard batch > 0, tokens.count % batch == 0 else { throw TensorError("train: \(tokens.count) tokens do not split into \(batch) equal sequences") }
        let seq = tokens.count / batch
        guard seq >= 2 else { throw TensorError("train: sequences need at least 2 tokens, got \(seq)") }
        var x = try embed(tokens)
        let rope = ropeTables(length: seq)
        let activations = Double(activationBytes(tokens: tokens.count))
        let recomputing = recompute ?? (activations > min(Double(1 << 30), MemoryLimit.availableBytes(for: activations) / 8))
        let kept = recomputing ? Double(tokens.count * config.hiddenSize * 4 * blocks.count) : activations
        let headRows = chunkRows ?? (recomputing ? headChunkRows : headChunkRows(besides: kept))
        let head = 8 * Double(min(tokens.count, headRows) * config.vocabSize)
        try MemoryLimit.require(kept + head + 8 * Double(tokens.count) * blockWorkingFloats(), for: "a training step of \(tokens.count) tokens")
        var saved: [BlockActivations] = []
        for block in blocks {
            let acts = try trainingForward(block, &x, batch: batch, seq: seq, rope: rope,
                                           mlp: recomputing ? .chunked(requestedRows: mlpChunkRows) : .kept)
            saved.append(recomputing ? BlockActivations(input: acts.input, afterAttention: acts.input) : acts.kept)
        }
        let finalInput = x
        let normed = LayerKernels.rmsNorm(finalInput, finalNorm, eps: config.rmsNormEps)
        let (loss, dNormed) = try headLossAndGradient(normed, tokens: tokens, batch: batch, seq: seq, ignoreIndex: ignoreIndex,
                                                      distillation: distillation, grads: grads, chunkRows: headRows,
                                                      lossDivisor: lossDivisor)
        var dx = try BackwardKernels.rmsNorm(finalInput, finalNorm, eps: config.rmsNormEps, dy: dNormed, grads: grads)
        // The forward pass's large blocks (full-width MLP products, the head's logits) and its freed heap pages are
        // not reused by the backward pass, whose blocks are smaller: returned now, they do not sit on top of its peak
        // (unless a trainer that keeps activations holds them for its next step: `HeapRetention`).
        HeapRetention.releaseFreePages()
        for block in blocks.reversed() {
            let acts = saved.removeLast()  // released after this block's backward pass
            var input = acts.input
            // Recomputing: the attention half again, while the MLP is recomputed a chunk of rows at a time inside
            // its backward pass (its activations are the largest of a block).
            let full = recomputing ? try trainingForward(block, &input, batch: batch, seq: seq, rope: rope, mlp: .skipped).kept : acts
            dx = try trainingBackward(block, full, dx, batch: batch, seq: seq, rope: rope, grads: grads, mlpChunkRows: mlpChunkRows,
                                      mlpDone: blockDone.map { done in { try done(block, grads) } })
            try blockDone?(block, grads)
        }
        // Embedding rows receive the input gradient (and, when tied, the LM head gradient already added).
        // (Scattered straight into the tied head's gradient when there is one: no second vocabulary-sized buffer.)
        if grads.wants(embedding) {
            let h = config.hiddenSize
            let dE = grads[embedding.tensor] ?? Tensor(shape: embedding.shape, repeating: 0)
            for (i, t) in tokens.enumerated() {
                let dst = dE.data + Int(t) * h, src = dx.data + i * h
                for j in 0..<h { dst[j] += src[j] }
            }
            if grads[embedding.tensor] == nil { try grads.accumulate(embedding.tensor, dE) }
        }
        try blockDone?(nil, grads)
        return (loss, grads)
    }

    /// The summed KL(target ‖ model) terms of the batch positions `rows` (whose logits are the rows of `logits`),
    /// divided by `positions`; writes the gradient with respect to those logits into `dlogits` (which may be `logits`
    /// itself), `(q - p) / positions` on the target's support and zero elsewhere (q renormalised there for top-k targets).
    func distillationLoss(_ logits: Tensor, _ dlogits: Tensor, target: TargetDistribution, firstSequence: Int, seq: Int,
                          rows: Range<Int>, positions: Double) -> Double {
        let v = config.vocabSize
        var loss = 0.0
        var gathered = [Float](repeating: 0, count: target.topK ?? 0)
        for r in rows {
            let row = logits.data + (r - rows.lowerBound) * v, drow = dlogits.data + (r - rows.lowerBound) * v
            if let k = target.topK {
                let base = (firstSequence * seq + r) * k
                for j in 0..<k { gathered[j] = row[Int(target.indices[base + j])] }  // read before the row is overwritten
                let m = gathered.max() ?? 0
                var z = 0.0
                for j in 0..<k { z += Double(Foundation.exp(gathered[j] - m)) }
                let lse = Double(m) + Foundation.log(z)
                drow.update(repeating: 0, count: v)
                for j in 0..<k {
                    let id = Int(target.indices[base + j]), lp = Double(target.logProbs[base + j]), lq = Double(gathered[j]) - lse
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

    /// Bytes of the activations the backward pass keeps for all blocks at `tokens` tokens (float32): each block's
    /// input, attention output, queries, keys, values (also before their norms where the family has them) and
    /// context, gate and up (`BlockActivations.kept`).
    func activationBytes(tokens: Int) -> Int {
        let perToken = blocks.map { b -> Int in
            let attention = b.attention.map { a -> Int in
                let (q, k) = (a.q.shape[0], a.k.shape[0])
                return config.hiddenSize + 2 * q + 2 * k + (a.qNorm != nil || a.kNorm != nil ? q + k : 0)
            } ?? 0
            return config.hiddenSize + attention + (b.mlp.map { 2 * $0.width } ?? 0)
        }.reduce(0, +)
        return perToken * tokens * MemoryLayout<Float>.stride
    }

    /// How `trainingForward` runs a block's MLP.
    enum MLPForward {
        /// Full width, gate and up kept for the backward pass.
        case kept
        /// A chunk of rows at a time (`rowsPerMLPChunk`), only the block's input kept (the forward pass when
        /// activations are recomputed later).
        case chunked(requestedRows: Int?)
        /// Not at all: `x` is left at the attention output (the recomputation before a backward pass, whose MLP part
        /// recomputes itself by chunks).
        case skipped
    }

    /// Rows per chunk of an MLP run by chunks: about 4 MiB of each `[rows, width]` product, at least 64 rows.
    func rowsPerMLPChunk(_ m: MLPWeights, requested: Int?) -> Int { max(1, requested ?? max(64, (1 << 20) / max(m.width, 1))) }

    /// One block forward, keeping the activations its backward pass uses (the MLP's as `mlp` says).
    func trainingForward(_ block: TransformerBlock, _ x: inout Tensor, batch: Int, seq: Int, rope: RopeTables,
                         mlp: MLPForward = .kept) throws -> BlockActivations {
        try Interrupt.check()
        var acts = BlockActivations(input: x, afterAttention: x)
        if let a = block.attention {
            let h = LayerKernels.rmsNorm(x, block.inputNorm, eps: config.rmsNormEps)
            let (q, k, v) = try queryKeyValue(a, h, seq: seq, rope: rope) { rawQ, rawK in
                if a.qNorm != nil || a.kNorm != nil { acts.rawQuery = rawQ; acts.rawKey = rawK }
            }
            let context = LayerKernels.causalAttention(q: q, k: k, v: v, kvOfQuery: a.kvOfQuery, batch: batch, seq: seq, headDim: a.headDim,
                                                       window: block.window)
            x = try residual(x, plus: context, a.o, a.oBias)
            acts.attentionNormed = h; acts.q = q; acts.k = k; acts.v = v; acts.context = context
        }
        acts.afterAttention = x
        guard let m = block.mlp else { return acts }
        switch mlp {
        case .kept:
            let (h, gate, up, act) = try mlpActivations(block, m, x)
            x = try residual(x, plus: act, m.down, m.downBias)
            acts.mlpNormed = h; acts.gate = gate; acts.up = up; acts.activation = act
        case .chunked(let requestedRows):
            let chunk = rowsPerMLPChunk(m, requested: requestedRows)
            // In place (each chunk of rows is read before it is overwritten with its output), except on the block's
            // input itself, which is kept (a block whose attention was pruned away).
            x = x === acts.input ? x.clone() : x.contiguous()
            for first in stride(from: 0, to: x.shape[0], by: chunk) {
                let n = min(chunk, x.shape[0] - first), rows = try x.narrow(0, first, n)
                let (_, _, _, act) = try mlpActivations(block, m, rows)
                try LayerKernels.linear(act, m.down, m.downBias, addingInto: rows)
            }
            return BlockActivations(input: acts.input, afterAttention: acts.input)
        case .skipped:
            break
        }
        return acts
    }

    /// `x + input Wᵀ + b` in a new tensor (`x` is kept for the backward pass): a copy of `x` into which the product
    /// accumulates (sgemm's beta = 1), instead of a zeroed product output and a third tensor for the sum.
    private func residual(_ x: Tensor, plus input: Tensor, _ weight: Weight, _ bias: Tensor?) throws -> Tensor {
        let sum = x.clone()
        try LayerKernels.linear(input, weight, bias, addingInto: sum)
        return sum
    }

    /// The MLP's activations for input rows `x` (before the norm): the normed input, gate, up and SwiGLU output.
    private func mlpActivations(_ block: TransformerBlock, _ m: MLPWeights, _ x: Tensor) throws -> (Tensor, Tensor, Tensor, Tensor) {
        let h = LayerKernels.rmsNorm(x, block.postAttentionNorm, eps: config.rmsNormEps)
        let gate = try LayerKernels.linear(h, m.gate, m.gateBias), up = try LayerKernels.linear(h, m.up, m.upBias)
        return (h, gate, up, LayerKernels.swigluOutput(gate: gate, up: up))
    }

    /// One block backward: gradient of the block input from the gradient of its output (`dOut`, which the residual
    /// connections' gradients are added into in place when it is contiguous). `mlpDone` is called once the MLP's
    /// gradients (and its norm's) are complete, before the attention half.
    func trainingBackward(_ block: TransformerBlock, _ acts: BlockActivations, _ dOut: Tensor, batch: Int, seq: Int,
                          rope: RopeTables, grads: Gradients, mlpChunkRows: Int? = nil, mlpDone: (() throws -> Void)? = nil) throws -> Tensor {
        try Interrupt.check()
        var dx = dOut.contiguous()
        if let m = block.mlp {
            if let gate = acts.gate, let up = acts.up {
                let h = acts.mlpNormed ?? LayerKernels.rmsNorm(acts.afterAttention, block.postAttentionNorm, eps: config.rmsNormEps)
                let act = acts.activation ?? LayerKernels.swigluOutput(gate: gate, up: up)
                try mlpBackward(block, m, acts.afterAttention, h, gate, up, act, dy: dx, grads: grads)
            } else {
                // Chunks of rows: forward and backward of the MLP, its weight gradients accumulating chunk by chunk.
                let rows = dx.shape[0], chunk = rowsPerMLPChunk(m, requested: mlpChunkRows)
                for first in stride(from: 0, to: rows, by: chunk) {
                    let n = min(chunk, rows - first)
                    let x = try acts.afterAttention.narrow(0, first, n), dy = try dx.narrow(0, first, n)
                    let (h, gate, up, act) = try mlpActivations(block, m, x)
                    try mlpBackward(block, m, x, h, gate, up, act, dy: dy, grads: grads)
                }
            }
            try mlpDone?()
        }
        if let a = block.attention, let q = acts.q, let k = acts.k, let v = acts.v, let context = acts.context {
            let h = acts.attentionNormed ?? LayerKernels.rmsNorm(acts.input, block.inputNorm, eps: config.rmsNormEps)
            let dContext = try BackwardKernels.linear(context, a.o, a.oBias, dy: dx, grads: grads)
            let (dq, dk, dv) = BackwardKernels.causalAttention(q: q, k: k, v: v, kvOfQuery: a.kvOfQuery, batch: batch, seq: seq,
                                                               headDim: a.headDim, window: block.window, dContext: dContext)
            rope.apply(dq, sequenceLength: seq, heads: a.queryHeads, inverse: true)
            rope.apply(dk, sequenceLength: seq, heads: a.kvHeads, inverse: true)
            var dq2 = dq, dk2 = dk
            if let norm = a.qNorm, let raw = acts.rawQuery { dq2 = try perHeadNormBackward(raw, norm, headDim: a.headDim, dy: dq, grads: grads) }
            if let norm = a.kNorm, let raw = acts.rawKey { dk2 = try perHeadNormBackward(raw, norm, headDim: a.headDim, dy: dk, grads: grads) }
            let dh = try BackwardKernels.linear(h, a.q, a.qBias, dy: dq2, grads: grads)
            _ = try BackwardKernels.linear(h, a.k, a.kBias, dy: dk2, grads: grads, addingInto: dh)
            _ = try BackwardKernels.linear(h, a.v, a.vBias, dy: dv, grads: grads, addingInto: dh)
            dx = try BackwardKernels.rmsNorm(acts.input, block.inputNorm, eps: config.rmsNormEps, dy: dh, grads: grads, addingInto: dx)
        }
        return dx
    }

    /// The backward pass of `perHeadNorm` on `x` (`[rows, heads*headDim]`): accumulates the norm weight's gradient,
    /// returns the gradient of `x`.
    private func perHeadNormBackward(_ x: Tensor, _ weight: Tensor, headDim: Int, dy: Tensor, grads: Gradients) throws -> Tensor {
        let rows = x.shape[0], width = x.shape[1], heads = [rows * width / headDim, headDim]
        return try BackwardKernels.rmsNorm(x.contiguous().reshape(heads), weight, eps: config.rmsNormEps,
                                           dy: dy.contiguous().reshape(heads), grads: grads).reshape([rows, width])
    }

    /// The MLP's backward pass for its input rows `x` (before the norm; `h` after it) and the recorded gate, up and
    /// activation: accumulates the weight gradients and adds the gradient of `x` into `dy` (the residual connection
    /// carries `dy` to `x` too). Overwrites `act` (no longer needed once the down projection's gradient is in) with
    /// the gradient of `up`: two fewer `[rows, width]` buffers.
    private func mlpBackward(_ block: TransformerBlock, _ m: MLPWeights, _ x: Tensor, _ h: Tensor, _ gate: Tensor, _ up: Tensor,
                             _ act: Tensor, dy: Tensor, grads: Gradients) throws {
        let da = try BackwardKernels.linear(act, m.down, m.downBias, dy: dy, grads: grads)
        let (dg, du) = BackwardKernels.swiglu(gate: gate, up: up, da: da, into: act.isContiguous ? (da, act) : nil)
        let dh = try BackwardKernels.linear(h, m.gate, m.gateBias, dy: dg, grads: grads)
        _ = try BackwardKernels.linear(h, m.up, m.upBias, dy: du, grads: grads, addingInto: dh)
        _ = try BackwardKernels.rmsNorm(x, block.postAttentionNorm, eps: config.rmsNormEps, dy: dh, grads: grads, addingInto: dy)
    }
}
