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
    /// How a step uses the threads of `Parallel`.
    public enum ThreadSplit: String, Sendable {
        /// Each thread runs the forward and backward pass of its share of the batch's sequences (when the activations
        /// are kept, the batch divides evenly among the threads and no gradient is all-reduced; otherwise `products`).
        case sequences
        /// Every large matrix product and elementwise loop is split across the threads.
        case products
    }
    /// How a step uses the threads (default: `sequences`, where it applies).
    public var threadSplit = ThreadSplit.sequences
    /// Tokens trained on so far.
    public private(set) var tokensSeen = 0
    /// Data parallelism: each gradient is multiplied by `gradientShare` (this process's part of the batch) and handed
    /// to `gradientReducer` (an all-reduce sum over the processes) before the optimizer uses it, parameter by
    /// parameter in the same order in every process.
    public var gradientShare: Float = 1
    public var gradientReducer: ((Tensor) throws -> Void)?

    /// The tensors trained (float32 masters).
    private let trainable: [Tensor]
    /// Held while steps keep their activations (released with the trainer, or when a step recomputes): the heap's
    /// freed pages, which each step then reuses instead of faulting them in again, and the blocks of the head's and
    /// the embedding's weight gradients (at Qwen2.5-0.5B each is 545 MB per worker, too large for the block cache,
    /// and was mapped afresh every step).
    private var keptStepMemory: (heap: HeapRetention, vocabularyGradients: BlockReservation)?
    /// True while this trainer keeps the heap's freed pages for its next step (after a step that kept activations).
    var holdsHeapPages: Bool { keptStepMemory != nil }

    /// Trains `model`'s parameters whose names match `include` (all when nil). The trained parameters are copied
    /// first into float32 masters, so training a `clone()` never changes the model it was cloned from; the others
    /// are shared with it as they are (16-bit weights stay 16-bit) and only read.
    public init(model: LanguageModel, settings: OptimizerSettings, include: ((String) -> Bool)? = nil,
                accumulation: Int = 1, ignoreIndex: Int32? = nil) {
        let trained = Set(model.namedWeights.map(\.0).filter { include?($0) ?? true })
        model.detachParameters(trained)
        self.model = model
        let params = model.namedWeights.filter { trained.contains($0.0) }.map { name, p -> (String, Tensor) in
            switch p {
            case .matrix(let w): return (name, w.tensor)  // a float32 master after detachParameters
            case .vector(let t): return (name, t)
            }
        }
        optimizer = Optimizer(parameters: params, settings: settings)
        trainable = params.map(\.1)
        self.accumulation = max(1, accumulation)
        self.ignoreIndex = ignoreIndex
    }

    /// Whether this step recomputes activations: as set, or by default when keeping them for all blocks would take
    /// more than the trainer's own memory (its float32 masters and optimizer state) or more than a quarter of the
    /// memory available, so that a step never needs much more than the trainer itself (a search fine-tunes many
    /// candidates in turn) and keeps them, about a quarter faster, where memory is plentiful.
    public func recomputing(tokens: Int) -> Bool {
        if let recompute { return recompute }
        let own = Double(trainable.reduce(0) { $0 + $1.count * 4 } + optimizer.stateBytes)
        let activations = Double(model.activationBytes(tokens: tokens))
        return activations > min(own, MemoryLimit.availableBytes(for: activations) / 4)
    }

    /// Bytes this trainer holds beyond its model: the optimizer state (once allocated) and, with gradient
    /// accumulation, a set of gradients.
    public var stateBytes: Int { optimizer.stateBytes + (accumulation > 1 ? model.parameterBytes : 0) }

    /// One micro-batch; an optimizer step happens every `accumulation` calls. Returns the micro-batch loss:
    /// next-token cross-entropy, or with `distillation` the KL from those dense targets (whose sequences
    /// `firstSequence...` these are).
    @discardableResult
    public func step(tokens: [Int32], batch: Int, distillation: (target: TargetDistribution, firstSequence: Int)? = nil) throws -> Double {
        let recompute = recomputing(tokens: tokens.count)
        if recompute {
            keptStepMemory = nil
        } else if keptStepMemory == nil {
            keptStepMemory = (HeapRetention(), model.vocabularyGradientReservation())
        }
        if accumulation == 1 && optimizer.settings.clipNorm == nil {
            // Each block's parameters are updated as soon as its backward pass has completed their gradients, which
            // are then freed: only one block's gradients exist at a time (same result as one update at the end).
            let lr = optimizer.beginStep()
            let (loss, _) = try lossAndGradients(tokens: tokens, batch: batch, distillation: distillation, recompute: recompute) { block, grads in
                for p in block.map(\.floatParameters) ?? self.trainable {
                    if let g = grads.take(p) { try self.reduce(g); try self.optimizer.update(p, g, lr: lr) }
                }
            }
            tokensSeen += tokens.count
            return loss
        }
        let (loss, grads) = try lossAndGradients(tokens: tokens, batch: batch, distillation: distillation, recompute: recompute)
        for p in trainable { if let g = grads[p] { try reduce(g) } }
        tokensSeen += tokens.count
        if let pending {
            for p in trainable { if let g = grads[p] { try pending.accumulate(p, g) } }
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

extension Trainer {
    /// The step's forward and backward pass, its batch split among the threads (`threadSplit`) where that applies.
    /// (Not with an all-reduce: its MPI calls must come from the main thread, and `blockDone` may run on another.)
    private func lossAndGradients(tokens: [Int32], batch: Int, distillation: (target: TargetDistribution, firstSequence: Int)?,
                                  recompute: Bool, blockDone: ((TransformerBlock?, Gradients) throws -> Void)? = nil) throws -> (loss: Double, gradients: Gradients) {
        if threadSplit == .sequences, !recompute, gradientReducer == nil, let parts = Parallel.sequenceParts(batch: batch) {
            return try model.lossAndGradients(inParts: parts, tokens: tokens, batch: batch, ignoreIndex: ignoreIndex, distillation: distillation,
                                              trainable: trainable, blockDone: blockDone)
        }
        return try model.lossAndGradients(tokens: tokens, batch: batch, ignoreIndex: ignoreIndex, distillation: distillation,
                                          recompute: recompute, trainable: trainable, blockDone: blockDone)
    }

    /// A gradient's data-parallel reduction (`gradientShare`, `gradientReducer`); nothing in a single process.
    func reduce(_ g: Tensor) throws {
        if gradientShare != 1 { g.binaryInPlace(.mul, scalar: gradientShare) }
        try gradientReducer?(g)
    }
}

extension LanguageModel {
    /// A reservation for the `[vocabulary, hidden]` weight gradients a step keeping its activations has live at once:
    /// the head's (which tied embeddings share) and an untied embedding's, one each per worker of a split batch.
    func vocabularyGradientReservation() -> BlockReservation {
        BlockReservation(tensorsOf: lmHead.count, count: max(1, Parallel.threads) * (tiedEmbeddings ? 1 : 2))
    }

    /// Gives this model its own float32 copy of the parameters named in `trained` (all when nil) (keeping tied embeddings tied)
    /// and its own unit objects, so in-place updates of those do not reach models it shares weights with: the float32
    /// master weights of training. Other parameters stay shared, in their format.
    public func detachParameters(_ trained: Set<String>? = nil) {
        func master(_ w: Weight, _ name: String) -> Weight { trained?.contains(name) ?? true ? Weight(w.floatCopy()) : w }
        func master(_ t: Tensor?, _ name: String) -> Tensor? { trained?.contains(name) ?? true ? t?.clone() : t }
        let tied = tiedEmbeddings
        embedding = master(embedding, "model.embed_tokens.weight")
        lmHead = tied ? embedding : master(lmHead, "lm_head.weight")
        finalNorm = master(finalNorm, "model.norm.weight")!
        for (i, b) in blocks.enumerated() {
            let p = "model.layers.\(i)."
            b.inputNorm = master(b.inputNorm, p + "input_layernorm.weight")!
            b.postAttentionNorm = master(b.postAttentionNorm, p + "post_attention_layernorm.weight")!
            if let a = b.attention {
                let s = p + "self_attn."
                let copy = AttentionWeights(q: master(a.q, s + "q_proj.weight"), k: master(a.k, s + "k_proj.weight"), v: master(a.v, s + "v_proj.weight"),
                                            o: master(a.o, s + "o_proj.weight"), qBias: master(a.qBias, s + "q_proj.bias"),
                                            kBias: master(a.kBias, s + "k_proj.bias"), vBias: master(a.vBias, s + "v_proj.bias"),
                                            oBias: master(a.oBias, s + "o_proj.bias"), qNorm: master(a.qNorm, s + "q_norm.weight"),
                                            kNorm: master(a.kNorm, s + "k_norm.weight"), kvOfQuery: a.kvOfQuery, headDim: a.headDim)
                copy.denseHeads = a.denseHeads
                b.attention = copy
            }
            if let m = b.mlp {
                let s = p + "mlp."
                let copy = MLPWeights(gate: master(m.gate, s + "gate_proj.weight"), up: master(m.up, s + "up_proj.weight"),
                                      down: master(m.down, s + "down_proj.weight"), gateBias: master(m.gateBias, s + "gate_proj.bias"),
                                      upBias: master(m.upBias, s + "up_proj.bias"), downBias: master(m.downBias, s + "down_proj.bias"))
                copy.denseNeurons = m.denseNeurons
                b.mlp = copy
            }
        }
    }
}

extension TransformerBlock {
    /// The block's float32 parameter tensors (16-bit weights left out: they are not trained).
    var floatParameters: [Tensor] {
        let weights = (attention?.weights ?? []) + (mlp?.weights ?? [])
        return [inputNorm, postAttentionNorm] + weights.filter { $0.half == nil }.map(\.tensor) + (attention?.biases ?? [])
            + (attention?.norms ?? []) + (mlp?.biases ?? [])
    }
}
