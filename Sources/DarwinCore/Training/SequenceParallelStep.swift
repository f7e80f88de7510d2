import Synchronization

/// The gradients of one training step whose batch is split into parts, one per worker, each running its forward and
/// backward pass on its own thread: as each part reaches the same point of its backward pass (a block's MLP done, a
/// whole block done, the end), it adds the gradients completed there into that point's sum; the last part to arrive
/// takes the sum. Parts run the same sequence of points, so the n-th arrival of every part is the same point.
final class GradientRendezvous {
    private struct Point { var arrived = 0; let sum: Gradients }
    private let parts: Int, trainable: [Tensor]?
    private let points = Mutex<[Int: Point]>([:])

    /// A rendezvous of `parts` parts whose gradients are those of `trainable` (all when nil).
    init(parts: Int, trainable: [Tensor]?) {
        self.parts = parts
        self.trainable = trainable
    }

    /// Part `grads` arrives at point `index`: its gradients of `parameters` (every one it holds when nil) are moved into
    /// the point's sum. Returns the sum when this was the last part to arrive, nil otherwise.
    func arrive(at index: Int, moving parameters: [Tensor]?, from grads: Gradients) throws -> Gradients? {
        try points.withLock { table in
            var point = table[index] ?? Point(sum: Gradients(trainable: trainable))
            try grads.move(parameters, into: point.sum)
            point.arrived += 1
            if point.arrived == parts { table[index] = nil; return point.sum }
            table[index] = point
            return nil
        }
    }
}

extension LanguageModel {
    /// `lossAndGradients` with activations kept, its `batch` sequences split into `parts` equal parts that run at the
    /// same time, each on one worker thread whose matrix products, attention and elementwise loops are not split again.
    /// Same loss and gradients as one pass over the whole batch, up to the order of float32 sums (each part's weight
    /// gradients are summed over its own tokens, then the parts' sums added). `blockDone` is called as
    /// `lossAndGradients` calls it, with the parts' summed gradients, by whichever worker completes them last: the calls
    /// never overlap, and the other workers go on meanwhile. The workers meet only there, twice per block, instead of
    /// after every product split across them, which on a machine whose cores change speed from moment to moment (a
    /// shared virtual machine) leaves one of them waiting for the other (SmolLM2-360M, 4 × 512: about 10% of the step).
    func lossAndGradients(inParts parts: Int, tokens: [Int32], batch: Int, ignoreIndex: Int32?,
                          distillation: (target: TargetDistribution, firstSequence: Int)?, trainable: [Tensor]?,
                          blockDone: ((TransformerBlock?, Gradients) throws -> Void)?) throws -> (loss: Double, gradients: Gradients) {
        guard parts > 1, batch % parts == 0, tokens.count % batch == 0, tokens.count / batch >= 2 else {
            return try lossAndGradients(tokens: tokens, batch: batch, ignoreIndex: ignoreIndex, distillation: distillation,
                                        recompute: false, trainable: trainable, blockDone: blockDone)
        }
        // Without a list, every parameter: 16-bit weights become float32 here, before the workers start, as a
        // whole-batch pass would convert them (two workers must not convert the same weight).
        let trainable = trainable ?? namedParameters.map(\.1)
        let seq = tokens.count / batch, sequences = batch / parts, partTokens = sequences * seq
        // The whole batch's ids and sequences, as one pass would name them.
        try checkTokenIds(tokens)
        try checkTargets(distillation, batch: batch, seq: seq)
        let divisor = distillation == nil ? try LanguageModel.predictedTargets(tokens, seq: seq, ignoreIndex: ignoreIndex) : tokens.count
        let rendezvous = GradientRendezvous(parts: parts, trainable: trainable)
        let result = Gradients(trainable: trainable)
        let losses = try Parallel.mapParts(parts) { part in
            var points = 0
            return try lossAndGradients(tokens: Array(tokens[(part * partTokens)..<((part + 1) * partTokens)]), batch: sequences,
                                        ignoreIndex: ignoreIndex,
                                        distillation: distillation.map { ($0.target, $0.firstSequence + part * sequences) },
                                        recompute: false, trainable: trainable, lossDivisor: divisor) { block, grads in
                defer { points += 1 }
                guard let sum = try rendezvous.arrive(at: points, moving: block?.floatParameters, from: grads) else { return }
                if let blockDone { try blockDone(block, sum) } else { try sum.move(nil, into: result) }
            }.loss
        }
        return (losses.reduce(0, +), result)
    }
}
