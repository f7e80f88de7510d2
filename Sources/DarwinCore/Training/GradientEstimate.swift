/// Gradients of the language-modelling loss over a set of sequences, without an optimizer step: what
/// gradient-based pruning scores (first-order Taylor importance) need.
extension LanguageModel {
    /// Mean cross-entropy over `sequences` (equal lengths) and its gradient for every parameter, under the
    /// parameters' Hugging Face names; computed `batchSize` sequences at a time and weighted by sequence count.
    public func lossGradients(_ sequences: [[Int32]], batchSize: Int) throws -> (loss: Double, gradients: [(String, Tensor)]) {
        guard !sequences.isEmpty else { throw TensorError("gradients: no sequences") }
        guard batchSize > 0 else { throw TensorError("gradients: batch_size must be positive, got \(batchSize)") }
        let total = Gradients()
        var loss = 0.0
        for start in stride(from: 0, to: sequences.count, by: batchSize) {
            let chunk = sequences[start..<min(start + batchSize, sequences.count)]
            let (chunkLoss, grads) = try lossAndGradients(tokens: Array(chunk.joined()), batch: chunk.count)
            let weight = Float(chunk.count) / Float(sequences.count)
            grads.scale(by: weight)
            loss += chunkLoss * Double(weight)
            for (_, p) in namedParameters { if let g = grads[p] { try total.accumulate(p, g) } }
        }
        return (loss, namedParameters.compactMap { name, p in total[p].map { (name, $0) } })
    }
}
