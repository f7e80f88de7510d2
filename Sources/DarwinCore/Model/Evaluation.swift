import COpenBLAS
import Foundation

/// The dense model's next-token distributions on a fixed set of sequences, kept to score candidates by KL.
public final class TargetDistribution {
    /// Number of sequences and their length.
    public let sequenceCount: Int, sequenceLength: Int
    /// Vocabulary size of the model that made them.
    public let vocabSize: Int
    /// nil: the full distribution is kept; otherwise only the `topK` most likely tokens of each position.
    public let topK: Int?
    /// Log-probabilities, `[positions, vocab]` (full) or `[positions, k]` renormalised over the top k (sparse).
    let logProbs: [Float]
    /// Token ids of the kept entries (sparse only), `[positions, k]`.
    let indices: [Int32]

    init(sequenceCount: Int, sequenceLength: Int, vocabSize: Int, topK: Int?, logProbs: [Float], indices: [Int32]) {
        self.sequenceCount = sequenceCount; self.sequenceLength = sequenceLength; self.vocabSize = vocabSize
        self.topK = topK; self.logProbs = logProbs; self.indices = indices
    }

    /// Bytes held.
    public var byteCount: Int { logProbs.count * 4 + indices.count * 4 }
}

/// Perplexity, target distributions and KL divergence, computed batch by batch and, within a batch, on chunks of
/// positions: only `headChunkRows` rows of logits (64 MiB) are alive at a time, whatever the vocabulary.
extension LanguageModel {
    /// Sum of next-token negative log-likelihoods (nats) and the number of predicted tokens.
    public func negativeLogLikelihood(_ sequences: [[Int32]], batchSize: Int = 8) throws -> (sum: Double, count: Int) {
        var sum = 0.0, count = 0
        try forEachLogitRows(sequences, batchSize: batchSize) { logits, firstRow, rows, seq in
            let v = config.vocabSize
            for r in 0..<rows {
                let position = firstRow + r, t = position % seq
                guard t < seq - 1 else { continue }
                let row = logits.data + r * v
                sum += Double(LanguageModel.logSumExp(row, v) - row[Int(sequences[position / seq][t + 1])])
                count += 1
            }
        }
        return (sum, count)
    }

    /// `exp(mean next-token NLL)` over the sequences.
    public func perplexity(_ sequences: [[Int32]], batchSize: Int = 8) throws -> Double {
        let (sum, count) = try negativeLogLikelihood(sequences, batchSize: batchSize)
        return Foundation.exp(sum / Double(max(count, 1)))
    }

    /// This model's next-token distributions at every position: full (`topK` nil) or the `topK` most likely
    /// tokens renormalised to sum to one (as a sparse KL target).
    public func targets(_ sequences: [[Int32]], topK: Int? = nil, batchSize: Int = 8) throws -> TargetDistribution {
        let v = config.vocabSize
        if let k = topK, k < 1 || k > v { throw TensorError("targets: topk must be in 1...\(v), got \(k)") }
        let seq = sequences.first?.count ?? 0
        let width = topK ?? v
        try MemoryLimit.require(Double(sequences.count * seq * width) * (topK == nil ? 4 : 8), for: "the targets of \(sequences.count)x\(seq) positions")
        var logProbs = [Float](repeating: 0, count: sequences.count * seq * width)
        var indices = [Int32](repeating: 0, count: topK == nil ? 0 : sequences.count * seq * width)
        try forEachLogitRows(sequences, batchSize: batchSize) { logits, firstRow, rows, _ in
            for r in 0..<rows {
                let row = logits.data + r * v, out = (firstRow + r) * width
                if let k = topK {
                    let top = try Tensor(storage: logits.storage, shape: [v], strides: [1], offset: logits.offset + r * v).topk(k)
                    let lse = LanguageModel.logSumExp(top.values.data, k)
                    for j in 0..<k { logProbs[out + j] = top.values.data[j] - lse; indices[out + j] = Int32(top.indices.data[j]) }
                } else {
                    let lse = LanguageModel.logSumExp(row, v)
                    for j in 0..<v { logProbs[out + j] = row[j] - lse }
                }
            }
        }
        return TargetDistribution(sequenceCount: sequences.count, sequenceLength: seq, vocabSize: v, topK: topK,
                                  logProbs: logProbs, indices: indices)
    }

    /// Mean over positions of KL(target || this model). For sparse targets both distributions are restricted
    /// to the target's top-k tokens and renormalised there.
    public func klDivergence(_ sequences: [[Int32]], to target: TargetDistribution, batchSize: Int = 8) throws -> Double {
        guard target.sequenceCount == sequences.count, target.sequenceLength == (sequences.first?.count ?? 0) else {
            throw TensorError("kl: targets were made for \(target.sequenceCount) sequences of \(target.sequenceLength) tokens, got \(sequences.count) of \(sequences.first?.count ?? 0)")
        }
        guard target.vocabSize == config.vocabSize else {
            throw TensorError("kl: targets have vocabulary \(target.vocabSize), the model \(config.vocabSize)")
        }
        if let k = target.topK { return try sparseKL(sequences, to: target, k: k, batchSize: batchSize) }
        let v = config.vocabSize
        var total = 0.0
        try forEachLogitRows(sequences, batchSize: batchSize) { logits, firstRow, rows, _ in
            for r in 0..<rows {
                let row = logits.data + r * v, base = (firstRow + r) * v
                let lse = LanguageModel.logSumExp(row, v)
                var kl = 0.0
                for j in 0..<v {
                    let lp = Double(target.logProbs[base + j])
                    kl += Foundation.exp(lp) * (lp - Double(row[j] - lse))
                }
                total += kl
            }
        }
        return total / Double(sequences.count * target.sequenceLength)
    }

    /// KL to top-k targets. Both distributions live on the target's k tokens, so only those k logits of each
    /// position are computed (k dot products with LM-head rows instead of the whole vocabulary's projection).
    func sparseKL(_ sequences: [[Int32]], to target: TargetDistribution, k: Int, batchSize: Int) throws -> Double {
        let h = config.hiddenSize
        // The k rows of each position are read from anywhere in the head: a 16-bit head is converted a row at a time
        // as it is read (the same values as a float32 copy, without a vocabulary-sized copy: 2 GB at 8B shapes).
        let half = lmHead.half, head = half == nil ? lmHead.floatValues() : nil
        var perPosition = [Double](repeating: 0, count: sequences.count * target.sequenceLength)
        try perPosition.withUnsafeMutableBufferPointer { out in
            let klOut = out.baseAddress!
            try target.logProbs.withUnsafeBufferPointer { logProbs in
            try target.indices.withUnsafeBufferPointer { indices in
                let lp = logProbs.baseAddress!, ids = indices.baseAddress!
                try forEachBatchNormed(sequences, batchSize: batchSize) { normed, batch, seq, first in
                    Parallel.forEachChunk(count: batch * seq, minimumChunk: 64) { range in
                        let gathered = UnsafeMutablePointer<Float>.allocate(capacity: k)
                        let converted = UnsafeMutablePointer<Float>.allocate(capacity: half == nil ? 0 : h)
                        defer { gathered.deallocate(); converted.deallocate() }
                        func headRow(_ id: Int) -> UnsafePointer<Float> {
                            guard let half else { return UnsafePointer(head!.data + id * h) }
                            half.convertRows(id..<(id + 1), into: converted, parallel: false)
                            return UnsafePointer(converted)
                        }
                        for r in range {
                            let x = normed.data + r * h, base = (first * seq + r) * k
                            for j in 0..<k { gathered[j] = cblas_sdot(Int32(h), x, 1, headRow(Int(ids[base + j])), 1) }
                            let lse = LanguageModel.logSumExp(gathered, k)
                            var kl = 0.0
                            for j in 0..<k {
                                let t = Double(lp[base + j])
                                kl += Foundation.exp(t) * (t - Double(gathered[j] - lse))
                            }
                            klOut[first * seq + r] = kl
                        }
                    }
                }
            }
            }
        }
        return perPosition.reduce(0, +) / Double(sequences.count * target.sequenceLength)
    }

    /// `body(logits [rows, vocab], firstRow, rows, seq)` for consecutive chunks of positions (rows numbered over
    /// all sequences, `sequence * seq + position`), at most `headChunkRows` at a time.
    func forEachLogitRows(_ sequences: [[Int32]], batchSize: Int, _ body: (Tensor, Int, Int, Int) throws -> Void) throws {
        let chunk = headChunkRows
        try forEachBatchNormed(sequences, batchSize: batchSize) { normed, batch, seq, first in
            for start in stride(from: 0, to: batch * seq, by: chunk) {
                let rows = min(chunk, batch * seq - start)
                try body(try LayerKernels.linear(try normed.narrow(0, start, rows), lmHead, nil), first * seq + start, rows, seq)
            }
        }
    }

    /// Runs the blocks and the final norm on consecutive batches; `body(normed [batch*seq, hidden], batch, seq, first)`.
    func forEachBatchNormed(_ sequences: [[Int32]], batchSize: Int, _ body: (Tensor, Int, Int, Int) throws -> Void) throws {
        guard let seq = sequences.first?.count, seq > 0 else { throw TensorError("evaluation: no sequences given") }
        if let bad = sequences.firstIndex(where: { $0.count != seq }) {
            throw TensorError("evaluation: sequence \(bad + 1) has \(sequences[bad].count) tokens, expected \(seq) like the first")
        }
        var first = 0
        while first < sequences.count {
            let batch = min(max(batchSize, 1), sequences.count - first)
            try body(try finalNormed(tokens: Array(sequences[first..<(first + batch)].joined()), batch: batch), batch, seq, first)
            first += batch
            evaluationProgress?.update(Double(first))
        }
    }

    /// The blocks and the final norm on `batch` equal-length sequences: `[batch*seq, hidden]`.
    func finalNormed(tokens: [Int32], batch: Int) throws -> Tensor {
        LayerKernels.rmsNorm(try hidden(tokens: tokens, batch: batch, keepHiddenStates: false).last, finalNorm, eps: config.rmsNormEps)
    }

    /// log(sum(exp(x))) of `n` values, stable.
    static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = VectorMath.maximum(x, n)
        if !m.isFinite { return m }
        return m + Float(Foundation.log(VectorMath.expShifted(x, nil, n, shift: m)))
    }
}
