import Foundation
import Testing
@testable import DarwinCore

@Suite("training: gradients match transformers")
struct GradientTests {
    @Test("loss and every parameter's gradient match transformers' backward (head in one piece and in chunks of 3 tokens)",
          arguments: Fixtures.families, [nil, 3])
    func gradients(family: String, headChunkRows: Int?) throws {
        let (model, ref, ids, batch) = try Fixtures.load(family)
        let (loss, grads) = try model.lossAndGradients(tokens: ids, batch: batch, headChunkRows: headChunkRows)
        let expectedLoss = Double(try ref.tensor("loss").item())
        #expect(Swift.abs(loss - expectedLoss) < 1e-5 * expectedLoss)
        var worst = 0.0
        for (name, parameter) in model.namedParameters {
            guard let g = grads[parameter] else { Issue.record("\(family): no gradient for \(name)"); continue }
            let err = relativeError(g, try ref.tensor("grad." + name))
            worst = max(worst, err)
            #expect(err < 1e-4, "\(family) \(name): \(err)")
        }
        #expect(grads.count == model.namedParameters.count)
        print("\(family): \(grads.count) gradients, worst relative error \(worst)")
    }
}

@Suite("training: recomputed activations")
struct RecomputeTests {
    /// In one chunk the recomputed MLP is the same arithmetic; in chunks of 5 rows (in the forward pass too) sgemm sums
    /// in another order, and its weight gradients are summed chunk by chunk (k_proj.bias, whose exact gradient is
    /// zero, is off by 3e-6 relative; the loss by 4e-8).
    @Test("recomputing each block's activations before its backward pass gives the same loss and gradients (MLP in one chunk and in chunks of 5 rows)",
          arguments: Fixtures.families, [nil, 5])
    func recompute(family: String, mlpChunkRows: Int?) throws {
        let (model, _, ids, batch) = try Fixtures.load(family)
        // The head in chunks of the same size both times (keeping activations, a step would otherwise take larger ones).
        let (kept, keptGrads) = try model.lossAndGradients(tokens: ids, batch: batch, headChunkRows: model.headChunkRows, recompute: false)
        let (again, againGrads) = try model.lossAndGradients(tokens: ids, batch: batch, headChunkRows: model.headChunkRows, recompute: true,
                                                             mlpChunkRows: mlpChunkRows)
        #expect(mlpChunkRows == nil ? kept == again : Swift.abs(kept - again) < 1e-7 * kept)
        for (name, p) in model.namedParameters {
            let err = relativeError(againGrads[p]!, keptGrads[p]!)
            #expect(mlpChunkRows == nil ? err == 0 : err < 1e-5, "\(family) \(name): \(err)")
        }
        #expect(model.activationBytes(tokens: 1 << 20) > model.activationBytes(tokens: 1 << 10) * 1000)
    }

    @Test("a trainer keeps activations up to its own memory (float32 masters and AdamW moments) and recomputes them beyond")
    func defaultPolicy() throws {
        let model = try LanguageModel.random(vocab: 24, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 20, headDim: 4, std: 0.3, seed: 4)
        let trainer = Trainer(model: model, settings: OptimizerSettings())
        let own = model.namedParameters.reduce(0) { $0 + $1.1.count } * 12, perToken = model.activationBytes(tokens: 1)
        #expect(perToken == model.activationBytes(tokens: 2) / 2)
        let fits = own / perToken  // far below a quarter of any machine's memory at this size
        #expect(!trainer.recomputing(tokens: fits) && trainer.recomputing(tokens: fits + 1))
        trainer.recompute = false
        #expect(!trainer.recomputing(tokens: fits + 1))
        trainer.recompute = true
        #expect(trainer.recomputing(tokens: 2))
    }

    @Test("a trainer that keeps activations holds the heap's freed pages from its first step to its release; recomputing steps do not")
    func heapPagesHeldWhileActivationsKept() throws {
        let model = try LanguageModel.random(vocab: 24, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 20, headDim: 4, std: 0.3, seed: 4)
        let tokens = (0..<16).map { Int32($0 % 24) }
        let kept = Trainer(model: model.clone(), settings: OptimizerSettings()), recomputing = Trainer(model: model.clone(), settings: OptimizerSettings())
        kept.recompute = false
        recomputing.recompute = true
        #expect(!kept.holdsHeapPages)
        let keptLoss = try kept.step(tokens: tokens, batch: 2), recomputedLoss = try recomputing.step(tokens: tokens, batch: 2)
        #expect(kept.holdsHeapPages && HeapRetention.isHeld)
        #expect(!recomputing.holdsHeapPages)
        #expect(Swift.abs(keptLoss - recomputedLoss) < 1e-6)
        // Same updates either way: the second step's losses agree too.
        #expect(Swift.abs(try kept.step(tokens: tokens, batch: 2) - (try recomputing.step(tokens: tokens, batch: 2))) < 1e-5)
        kept.recompute = true
        _ = try kept.step(tokens: tokens, batch: 2)
        #expect(!kept.holdsHeapPages)
    }

    @Test("a block reservation keeps freed blocks of its size apart from the cache's capacity and misses, up to its count")
    func blockReservation() throws {
        let elements = (33 << 20) / 4 + 13, bytes = TensorStorage.blockBytes(count: elements)  // a size no other test uses
        var reservation: BlockReservation? = BlockReservation(tensorsOf: elements, count: 2)
        var addresses: Set<Int> = []
        do {
            let three = (0..<3).map { _ in Tensor(uninitializedShape: [elements]) }
            addresses = Set(three.map { Int(bitPattern: $0.data) })
        }
        #expect(LargeBlockCache.reservedBlocks(bytes: bytes) == 2)
        // Neither a release of the cache nor a miss of another size frees them.
        LargeBlockCache.releaseAll()
        #expect(LargeBlockCache.take(bytes: bytes + 4096) == nil)
        #expect(LargeBlockCache.reservedBlocks(bytes: bytes) == 2)
        let again = Tensor(uninitializedShape: [elements])
        #expect(addresses.contains(Int(bitPattern: again.data)) && LargeBlockCache.reservedBlocks(bytes: bytes) == 1)
        reservation = nil
        #expect(reservation == nil && LargeBlockCache.reservedBlocks(bytes: bytes) == 0)
    }

    @Test("a trainer that keeps activations keeps its head's weight gradient blocks for the next step; recomputing steps do not")
    func vocabularyGradientBlocksKept() throws {
        // A head of 8209 × 1024 floats: over 32 MiB, large enough for the block cache, and of a size no other test's
        // tensors or weight tiles have (the cache is the process's, and tests run in parallel: a 32 MiB tile
        // elsewhere could take a kept block between the two counts).
        let model = try LanguageModel.random(vocab: 8209, hidden: 1024, layers: 1, heads: 8, kvHeads: 4, intermediate: 32, headDim: 16, std: 0.02, seed: 9)
        let bytes = TensorStorage.blockBytes(count: model.lmHead.count), tokens = (0..<16).map { Int32($0 * 511 % 8209) }
        let trainer = Trainer(model: model, settings: OptimizerSettings())
        trainer.recompute = false
        let first = try trainer.step(tokens: tokens, batch: 2)
        let kept = LargeBlockCache.reservedBlocks(bytes: bytes)
        #expect(kept >= 1 && kept <= max(1, Parallel.threads))
        let second = try trainer.step(tokens: tokens, batch: 2)
        #expect(second < first && LargeBlockCache.reservedBlocks(bytes: bytes) == kept)
        trainer.recompute = true
        _ = try trainer.step(tokens: tokens, batch: 2)
        #expect(LargeBlockCache.reservedBlocks(bytes: bytes) == 0)
    }
}

@Suite("training: optimizers and learning")
struct OptimizerTests {
    /// The first Adam step is about lr * sign(g): entries whose gradient is within rounding of zero flip sign
    /// under any change of summation order, so the optimizer is checked on transformers' own gradients
    /// (our gradients are checked against those separately).
    @Test("one AdamW step matches torch.optim.AdamW", arguments: Fixtures.families)
    func adamwStep(family: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(family))
        let ref = try Fixtures.reference(family)
        let grads = Gradients()
        for (name, p) in model.namedParameters { try grads.accumulate(p, try ref.tensor("grad." + name)) }
        var settings = OptimizerSettings()  // as recorded by the generator: lr 1e-2, betas (0.9, 0.95), eps 1e-8, wd 0.1
        settings.learningRate = 1e-2; settings.beta2 = 0.95; settings.weightDecay = 0.1
        try Optimizer(parameters: model.namedParameters, settings: settings).apply(grads)
        for (name, p) in model.namedParameters {
            let err = relativeError(p, try ref.tensor("adamw." + name))
            #expect(err < 1e-6, "\(family) \(name): \(err)")
        }
    }

    @Test("warmup + cosine schedule")
    func schedule() {
        let s = LearningRateSchedule.warmupCosine(warmup: 10, total: 110, minRatio: 0.1)
        #expect(s.factor(step: 5) == 0.5 && s.factor(step: 10) == 1)
        #expect(Swift.abs(s.factor(step: 60) - 0.55) < 1e-12 && Swift.abs(s.factor(step: 110) - 0.1) < 1e-12)
    }

    @Test("a tiny model learns a repeated text: the loss falls by more than half")
    func learns() throws {
        let model = try LanguageModel.random(vocab: 32, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, std: 0.1, seed: 3)
        let pattern: [Int32] = [3, 7, 1, 9, 4, 4, 12, 30, 2, 5, 17, 8]
        let tokens = Array((0..<4).flatMap { _ in pattern + pattern }.prefix(4 * 24))
        var settings = OptimizerSettings()
        settings.learningRate = 3e-3; settings.clipNorm = 1
        let opt = Optimizer(parameters: model.namedParameters, settings: settings)
        let first = try model.lossAndGradients(tokens: tokens, batch: 4).loss
        var last = first
        for _ in 0..<60 {
            let (loss, grads) = try model.lossAndGradients(tokens: tokens, batch: 4)
            try opt.apply(grads)
            last = loss
        }
        print("learning test: loss \(first) -> \(last)")
        #expect(last < 0.5 * first)
    }
}

@Suite("training: finite differences")
struct FiniteDifferenceTests {
    /// Central differences of the loss on randomly chosen coordinates of every parameter tensor.
    /// The engine computes in float32, so the step is large (1e-2) and the tolerance matches float32 precision.
    static func check(_ model: LanguageModel, tokens: [Int32], batch: Int, label: String) throws {
        let (_, grads) = try model.lossAndGradients(tokens: tokens, batch: batch)
        let g = RandomGenerator(seed: 9)
        var checked = 0
        for (name, p) in model.namedParameters {
            let analytic = grads[p] ?? Tensor(shape: p.shape, repeating: 0)  // unused (e.g. the norm of a removed unit)
            for _ in 0..<3 {
                let i = g.integer(0, p.count - 1)
                let old = p.data[i], h: Float = 1e-2
                p.data[i] = old + h
                let up = try model.lossAndGradients(tokens: tokens, batch: batch).loss
                p.data[i] = old - h
                let down = try model.lossAndGradients(tokens: tokens, batch: batch).loss
                p.data[i] = old
                let numeric = (up - down) / Double(2 * h), exact = Double(analytic.data[i])
                #expect(Swift.abs(numeric - exact) < 2e-3 + 2e-2 * Swift.abs(exact), "\(label) \(name)[\(i)]: numeric \(numeric) vs analytic \(exact)")
                checked += 1
            }
        }
        #expect(checked >= 3 * model.namedParameters.count)
    }

    @Test("gradients of a pruned model (fewer heads, a removed KV head, narrow and removed MLPs) match finite differences")
    func prunedShapes() throws {
        let model = try LanguageModel.random(vocab: 24, hidden: 16, layers: 3, heads: 4, kvHeads: 2, intermediate: 20, headDim: 4, tied: false, std: 0.3, seed: 4)
        model.blocks[0].attention = try model.blocks[0].attention!.keeping(queryHeads: [2, 3])  // KV head 0 disappears
        model.blocks[0].mlp = try model.blocks[0].mlp!.keeping(neurons: [1, 5, 7])
        model.blocks[1].attention = nil
        model.blocks[2].mlp = nil
        let tokens: [Int32] = [1, 5, 9, 2, 7, 3, 3, 8, 0, 1, 23, 4, 11, 6]
        try Self.check(model, tokens: tokens, batch: 2, label: "pruned")
        // Recomputed activations (the forward MLP by chunks of 3 rows, in place over the attention output, and over a
        // copy of the input where the attention is gone) give the same loss and gradients.
        let (kept, keptGrads) = try model.lossAndGradients(tokens: tokens, batch: 2, recompute: false)
        let (again, againGrads) = try model.lossAndGradients(tokens: tokens, batch: 2, recompute: true, mlpChunkRows: 3)
        #expect(Swift.abs(kept - again) <= 1e-6 * kept)
        for (name, p) in model.namedParameters {
            guard let g = keptGrads[p] else { continue }
            #expect(relativeError(againGrads[p]!, g) < 1e-5, "\(name)")
        }
    }
}

@Suite("training: distillation loss")
struct DistillationTests {
    @Test("the distillation loss equals klDivergence and its gradients match finite differences", arguments: [nil, 5] as [Int?])
    func distillation(topK: Int?) throws {
        let dense = try LanguageModel.random(vocab: 20, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 24, headDim: 4, std: 0.3, seed: 8)
        let student = dense.clone()
        student.detachParameters()
        student.blocks[1].mlp = try student.blocks[1].mlp!.keeping(neurons: [0, 3, 7, 11])
        let seqs: [[Int32]] = [[1, 5, 9, 2, 7, 3], [3, 8, 0, 1, 19, 4]]
        let target = try dense.targets(seqs, topK: topK)
        let tokens = Array(seqs.joined())
        let (loss, grads) = try student.lossAndGradients(tokens: tokens, batch: 2, distillation: (target, 0))
        #expect(Swift.abs(loss - (try student.klDivergence(seqs, to: target))) < 1e-6 * max(1, loss))
        let g = RandomGenerator(seed: 2)
        for (name, p) in student.namedParameters {
            let analytic = grads[p] ?? Tensor(shape: p.shape, repeating: 0)
            for _ in 0..<2 {
                let i = g.integer(0, p.count - 1), old = p.data[i], h: Float = 1e-2
                p.data[i] = old + h
                let up = try student.klDivergence(seqs, to: target)
                p.data[i] = old - h
                let down = try student.klDivergence(seqs, to: target)
                p.data[i] = old
                let numeric = (up - down) / Double(2 * h), exact = Double(analytic.data[i])
                #expect(Swift.abs(numeric - exact) < 1e-3 + 2e-2 * Swift.abs(exact), "\(name)[\(i)] top-k \(String(describing: topK)): \(numeric) vs \(exact)")
            }
        }
        // The head in chunks of 5 tokens (chunks that split sequences) gives the same loss and gradients.
        let (chunkedLoss, chunked) = try student.lossAndGradients(tokens: tokens, batch: 2, distillation: (target, 0), headChunkRows: 5)
        #expect(Swift.abs(chunkedLoss - loss) < 1e-6 * max(1, loss))  // sgemm blocks the rows differently
        for (name, p) in student.namedParameters {
            #expect(relativeError(chunked[p]!, grads[p]!) < 1e-6, "\(name) with a chunked head")
        }
        #expect(throws: TensorError.self) { try student.lossAndGradients(tokens: tokens, batch: 2, distillation: (target, 1)) }
    }
}
