/// The language-model head, the loss and their backward pass, a chunk of tokens at a time: with vocabularies of
/// 128k–152k a `[tokens, vocab]` logits matrix and its gradient would be gigabytes per batch, so only
/// `headChunkRows` rows of each exist at once, and the head's weight gradient accumulates inside sgemm (beta 1).
extension LanguageModel {
    /// Rows per chunk for this vocabulary: 64 MiB of logits, overwritten by their gradient, at least 64 rows.
    var headChunkRows: Int { max(64, (1 << 26) / (4 * max(config.vocabSize, 1))) }

    /// Rows per chunk of a training step that keeps `keptBytes` of activations: `headChunkRows`, or more while the
    /// logits stay within an eighth of those activations. Each chunk packs the whole head twice (its forward and
    /// input-gradient products) and reads and writes the head's whole weight gradient once, so fewer chunks save
    /// passes over the largest matrices of the model (SmolLM2-360M, 1024 rows per worker: 2 chunks instead of 4).
    func headChunkRows(besides keptBytes: Double) -> Int {
        max(headChunkRows, Int(min(keptBytes / 8, Double(Int32.max)) / Double(4 * max(config.vocabSize, 1))))
    }

    /// `rows` split into the fewest chunks of at most `limit` rows, all of the same size but the last: 1024 rows at
    /// most 341 each are 4 chunks of 256, not 3 of 341 and one of a single row that would still pass over the
    /// whole head.
    static func evenChunkRows(_ rows: Int, limit: Int) -> Int {
        let limit = max(1, min(rows, limit)), chunks = (rows + limit - 1) / limit
        return (rows + chunks - 1) / chunks
    }

    /// Mean next-token cross-entropy (targets equal to `ignoreIndex` left out), or with `distillation` the mean KL
    /// from those targets, of the final normalised hidden states `normed` (`[batch*seq, hidden]`); accumulates the
    /// head's weight gradient into `grads` and returns the loss and the gradient with respect to `normed`.
    /// `chunkRows` overrides the chunk size (tests). `lossDivisor` is what the loss is averaged over when these
    /// sequences are one part of a larger batch: that batch's predicted targets (cross-entropy) or positions (KL).
    func headLossAndGradient(_ normed: Tensor, tokens: [Int32], batch: Int, seq: Int, ignoreIndex: Int32?,
                             distillation: (target: TargetDistribution, firstSequence: Int)?, grads: Gradients,
                             chunkRows: Int? = nil, lossDivisor: Int? = nil) throws -> (Double, Tensor) {
        let v = config.vocabSize, h = config.hiddenSize, rows = batch * seq
        try checkTargets(distillation, batch: batch, seq: seq)
        let divisor = try lossDivisor ?? (distillation == nil ? LanguageModel.predictedTargets(tokens, seq: seq, ignoreIndex: ignoreIndex) : rows)
        let x = normed.contiguous()
        let dNormed = Tensor(uninitializedShape: [rows, h])
        let dW = grads.wants(lmHead) ? Tensor(shape: lmHead.shape, repeating: 0) : nil
        let chunkRows = LanguageModel.evenChunkRows(rows, limit: chunkRows ?? headChunkRows)
        // The loss overwrites each chunk's logits with their gradient (one vocabulary-wide buffer, not two).
        let logits = Tensor(uninitializedShape: [chunkRows, v]), dlogits = logits
        var loss = 0.0
        for start in stride(from: 0, to: rows, by: chunkRows) {
            let range = start..<min(rows, start + chunkRows), c = range.count
            let xChunk = GemmOperand(pointer: x.data + start * h, transposed: false, leadingDimension: h)
            try WeightProducts.timesTransposed(x.data + start * h, rows: c, lmHead, into: logits.data, ldc: v, beta: 0)
            if let (target, first) = distillation {
                loss += distillationLoss(logits, dlogits, target: target, firstSequence: first, seq: seq, rows: range, positions: Double(divisor))
            } else {
                loss += crossEntropy(logits, dlogits, tokens: tokens, seq: seq, rows: range, ignoreIndex: ignoreIndex, count: divisor)
            }
            try WeightProducts.times(dlogits.data, rows: c, lda: v, lmHead, into: dNormed.data + start * h, beta: 0)
            if let dW {
                sgemm(GemmOperand(pointer: dlogits.data, transposed: true, leadingDimension: v), xChunk, dW.data, m: v, n: h, k: c, ldc: h, beta: 1)
            }
        }
        if let dW { try grads.accumulate(lmHead.tensor, dW) }
        return (loss, dNormed)
    }

    /// Throws unless `distillation`'s targets (if any) are this model's vocabulary and cover sequences
    /// `firstSequence + 1 ... firstSequence + batch` of length `seq`.
    func checkTargets(_ distillation: (target: TargetDistribution, firstSequence: Int)?, batch: Int, seq: Int) throws {
        guard let (target, first) = distillation else { return }
        guard target.vocabSize == config.vocabSize, target.sequenceLength == seq, first >= 0, first + batch <= target.sequenceCount else {
            throw TensorError("train: distillation targets (\(target.sequenceCount)x\(target.sequenceLength), vocab \(target.vocabSize)) do not cover sequences \(first + 1)...\(first + batch) of length \(seq)")
        }
    }

    /// The number of positions of `tokens` (sequences of `seq`) whose next token is a target: all but each sequence's
    /// last and those whose next token is `ignoreIndex`; an error when there is none.
    static func predictedTargets(_ tokens: [Int32], seq: Int, ignoreIndex: Int32?) throws -> Int {
        var count = 0
        for b in 0..<(tokens.count / seq) { for t in 1..<seq where tokens[b * seq + t] != ignoreIndex { count += 1 } }
        guard count > 0 else { throw TensorError("train: every target is the ignored id \(ignoreIndex ?? -1)") }
        return count
    }

    /// The cross-entropy terms of the batch positions `rows` (logits in the rows of `logits`) divided by `count`;
    /// writes `dlogits = (softmax - onehot) / count` for them (zero rows where nothing is predicted: the last
    /// position of each sequence and ignored targets). Rows in parallel, each vectorised.
    func crossEntropy(_ logits: Tensor, _ dlogits: Tensor, tokens: [Int32], seq: Int, rows: Range<Int>, ignoreIndex: Int32?, count: Int) -> Double {
        let v = config.vocabSize, inverse = 1 / Float(count)
        var partial = [Double](repeating: 0, count: rows.count)
        tokens.withUnsafeBufferPointer { ids in
            partial.withUnsafeMutableBufferPointer { out in
                Parallel.forEachChunk(count: rows.count, minimumChunk: 16) { local in
                    for i in local {
                        let r = rows.lowerBound + i
                        let row = logits.data + i * v, drow = dlogits.data + i * v
                        guard r % seq != seq - 1, ids[r + 1] != ignoreIndex else { drow.update(repeating: 0, count: v); continue }
                        let target = Int(ids[r + 1])
                        let lse = LanguageModel.logSumExp(row, v)
                        out[i] = Double(lse - row[target])
                        _ = VectorMath.expShifted(row, drow, v, shift: lse)
                        for j in 0..<v { drow[j] *= inverse }
                        drow[target] -= inverse
                    }
                }
            }
        }
        return partial.reduce(0, +) / Double(count)
    }
}
