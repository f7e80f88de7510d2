/// Fine-tunes a model: forward, backward, gradient accumulation and optimizer steps.
public final class Trainer {
    /// The model being trained (its parameters are private copies: see `init`).
    public let model: LanguageModel
    public let optimizer: Optimizer
    /// Micro-batches per optimizer step.
    public let accumulation: Int
    /// Label id excluded from the loss (padding), if any.
    public let ignoreIndex: Int32?
    private var pending: Gradients?
    private var pendingCount = 0
    /// Recompute each block's activations in the backward pass (nil: when memory is short; see `lossAndGradients`).
    public var recompute: Bool?
    /// Tokens trained on so far.
    public private(set) var tokensSeen = 0

    /// Trains `model`'s parameters whose names match `include` (all when nil). The model's tensors are
    /// copied first, so training a `clone()` never changes the model it was cloned from.
    public init(model: LanguageModel, settings: OptimizerSettings, include: ((String) -> Bool)? = nil,
                accumulation: Int = 1, ignoreIndex: Int32? = nil) {
        model.detachParameters()
        self.model = model
        let params = model.namedParameters.filter { include?($0.0) ?? true }
        optimizer = Optimizer(parameters: params, settings: settings)
        self.accumulation = max(1, accumulation)
        self.ignoreIndex = ignoreIndex
    }

    /// Bytes this trainer holds beyond its model: the optimizer state (once allocated) and, with gradient
    /// accumulation, a set of gradients.
    public var stateBytes: Int { optimizer.stateBytes + (accumulation > 1 ? model.parameterBytes : 0) }

    /// One micro-batch; an optimizer step happens every `accumulation` calls. Returns the micro-batch loss:
    /// next-token cross-entropy, or with `distillation` the KL from those dense targets (whose sequences
    /// `firstSequence...` these are).
    @discardableResult
    public func step(tokens: [Int32], batch: Int, distillation: (target: TargetDistribution, firstSequence: Int)? = nil) throws -> Double {
        let (loss, grads) = try model.lossAndGradients(tokens: tokens, batch: batch, ignoreIndex: ignoreIndex, distillation: distillation,
                                                       recompute: recompute)
        tokensSeen += tokens.count
        if let pending {
            for (_, p) in model.namedParameters { if let g = grads[p] { try pending.accumulate(p, g) } }
        } else { pending = grads }
        pendingCount += 1
        if pendingCount == accumulation {
            if accumulation > 1 { pending!.scale(by: 1 / Float(accumulation)) }
            try optimizer.apply(pending!)
            pending = nil
            pendingCount = 0
        }
        return loss
    }
}

extension LanguageModel {
    /// Gives this model its own float32 copy of every weight tensor and weight object (keeping tied embeddings tied),
    /// so in-place updates do not reach models it shares tensors with: the float32 master weights of training.
    public func detachParameters() {
        let tied = tiedEmbeddings
        embedding = Weight(embedding.floatCopy())
        lmHead = tied ? embedding : Weight(lmHead.floatCopy())
        finalNorm = finalNorm.clone()
        for b in blocks {
            b.inputNorm = b.inputNorm.clone()
            b.postAttentionNorm = b.postAttentionNorm.clone()
            if let a = b.attention {
                let copy = AttentionWeights(q: a.q.floatCopy(), k: a.k.floatCopy(), v: a.v.floatCopy(), o: a.o.floatCopy(), qBias: a.qBias?.clone(),
                                            kBias: a.kBias?.clone(), vBias: a.vBias?.clone(), oBias: a.oBias?.clone(),
                                            kvOfQuery: a.kvOfQuery, headDim: a.headDim)
                copy.denseHeads = a.denseHeads
                b.attention = copy
            }
            if let m = b.mlp {
                let copy = MLPWeights(gate: m.gate.floatCopy(), up: m.up.floatCopy(), down: m.down.floatCopy(), gateBias: m.gateBias?.clone(),
                                      upBias: m.upBias?.clone(), downBias: m.downBias?.clone())
                copy.denseNeurons = m.denseNeurons
                b.mlp = copy
            }
        }
    }
}
