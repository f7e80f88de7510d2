import Foundation

/// One log-likelihood request: the tokens a continuation is conditioned on, and the continuation's tokens.
public struct ContinuationRequest: Equatable {
    public var context: [Int32]
    public var continuation: [Int32]

    public init(context: [Int32], continuation: [Int32]) {
        self.context = context; self.continuation = continuation
    }
}

/// A continuation's summed log-probability (nats) and whether greedy decoding would have produced every one of its
/// tokens (lm-evaluation-harness's `is_greedy`).
public struct ContinuationScore: Equatable {
    public var logLikelihood: Double
    public var isGreedy: Bool
}

/// Log-likelihoods of continuations, as lm-evaluation-harness's `loglikelihood` computes them for multiple-choice tasks.
extension LanguageModel {
    /// Scores each request: the model reads context + continuation without its last token, left-truncated to
    /// `maxLength` tokens (default: the model's `max_position_embeddings`), and each continuation token is scored at
    /// the position that predicts it. Requests run longest first, `batchSize` at a time, right-padded (attention is
    /// causal: padding never reaches the positions scored). Only the scored positions go through the LM head.
    public func scoreContinuations(_ requests: [ContinuationRequest], batchSize: Int = 8, maxLength: Int? = nil) throws -> [ContinuationScore] {
        let window = maxLength ?? config.maxPositions
        guard window >= 1 else { throw TensorError("loglikelihoods: the window must be at least 1 token, got \(window)") }
        let inputs = try requests.enumerated().map { i, r -> [Int32] in
            guard !r.context.isEmpty else {
                throw TensorError("loglikelihoods: request \(i + 1) has an empty context (give at least one token, e.g. BOS)")
            }
            guard !r.continuation.isEmpty else { throw TensorError("loglikelihoods: request \(i + 1) has an empty continuation") }
            guard r.continuation.count <= window else {
                throw TensorError("loglikelihoods: request \(i + 1)'s continuation has \(r.continuation.count) tokens, more than the \(window)-token window")
            }
            let whole = r.context + r.continuation
            if let bad = whole.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw TensorError("loglikelihoods: request \(i + 1) has token id \(bad), outside the vocabulary 0..<\(config.vocabSize)")
            }
            return Array(whole.suffix(window + 1).dropLast())
        }
        let order = inputs.indices.sorted { (inputs[$0].count, $1) > (inputs[$1].count, $0) }
        var scores = [ContinuationScore](repeating: ContinuationScore(logLikelihood: 0, isGreedy: true), count: requests.count)
        var done = 0
        while done < order.count {
            let group = Array(order[done..<min(done + max(batchSize, 1), order.count)])
            let length = inputs[group[0]].count
            var tokens = [Int32](repeating: 0, count: group.count * length)
            for (b, r) in group.enumerated() { tokens.replaceSubrange((b * length)..<(b * length + inputs[r].count), with: inputs[r]) }
            let normed = try finalNormed(tokens: tokens, batch: group.count)
            // (request, row of `normed`, target token) for every scored position of the group.
            var scored: [(request: Int, row: Int, target: Int32)] = []
            for (b, r) in group.enumerated() {
                let continuation = requests[r].continuation, first = inputs[r].count - continuation.count
                for (j, target) in continuation.enumerated() { scored.append((r, b * length + first + j, target)) }
            }
            try scoreRows(normed, scored, into: &scores)
            done += group.count
            evaluationProgress?.update(Double(done))
        }
        return scores
    }

    /// Adds each scored row's log-probability of its target to its request's score, `headChunkRows` rows at a time.
    private func scoreRows(_ normed: Tensor, _ scored: [(request: Int, row: Int, target: Int32)], into scores: inout [ContinuationScore]) throws {
        let h = config.hiddenSize, v = config.vocabSize
        for start in stride(from: 0, to: scored.count, by: headChunkRows) {
            let chunk = scored[start..<min(start + headChunkRows, scored.count)]
            let gathered = Tensor(uninitializedShape: [chunk.count, h])
            for (k, s) in chunk.enumerated() { (gathered.data + k * h).update(from: normed.data + s.row * h, count: h) }
            let logits = try LayerKernels.linear(gathered, lmHead, nil)
            for (k, s) in chunk.enumerated() {
                let row = logits.data + k * v, target = Int(s.target)
                scores[s.request].logLikelihood += Double(row[target] - LanguageModel.logSumExp(row, v))
                // Greedy: the target is the first largest logit (torch's argmax picks the first of equal maxima).
                let best = VectorMath.maximum(row, v)
                if row[target] < best || (0..<target).contains(where: { row[$0] == best }) { scores[s.request].isGreedy = false }
            }
        }
    }
}
