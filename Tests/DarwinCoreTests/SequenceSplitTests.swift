import Foundation
import Synchronization
import Testing
@testable import DarwinCore

@Suite("training: a batch split by sequences among the threads")
struct SequenceSplitTests {
    @Test("two parts of the batch, each on its own thread, give one pass's loss and gradients, and transformers'",
          arguments: Fixtures.families)
    func sameGradients(family: String) throws {
        Parallel.threads = 2
        let (model, ref, ids, batch) = try Fixtures.load(family)
        try #require(batch % 2 == 0)
        let (whole, wholeGrads) = try model.lossAndGradients(tokens: ids, batch: batch, recompute: false)
        let (split, splitGrads) = try model.lossAndGradients(inParts: 2, tokens: ids, batch: batch, ignoreIndex: nil, distillation: nil,
                                                             trainable: nil, blockDone: nil)
        #expect(Swift.abs(split - whole) < 1e-6 * whole)
        #expect(Swift.abs(split - Double(try ref.tensor("loss").item())) < 1e-5 * whole)
        #expect(splitGrads.count == model.namedParameters.count)
        for (name, p) in model.namedParameters {
            guard let g = splitGrads[p] else { Issue.record("\(family): no gradient for \(name)"); continue }
            #expect(relativeError(g, wholeGrads[p]!) < 1e-5, "\(family) \(name) against one pass")
            #expect(relativeError(g, try ref.tensor("grad." + name)) < 1e-4, "\(family) \(name) against transformers")
        }
    }

    /// The parts average over the whole batch's targets: the first part's targets are all ignored, which alone would be
    /// an error; with distillation each part reads its own sequences' targets.
    @Test("the loss is the whole batch's mean: ignored targets and distillation targets by sequence")
    func wholeBatchMean() throws {
        Parallel.threads = 2
        let model = try LanguageModel.random(vocab: 20, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 24, headDim: 4, std: 0.3, seed: 8)
        let seqs: [[Int32]] = [[1, 0, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0], [3, 8, 0, 1, 19, 4], [6, 2, 11, 0, 5, 9]]
        let tokens = Array(seqs.joined())
        let (whole, wholeGrads) = try model.lossAndGradients(tokens: tokens, batch: 4, ignoreIndex: 0, recompute: false)
        let (split, splitGrads) = try model.lossAndGradients(inParts: 2, tokens: tokens, batch: 4, ignoreIndex: 0, distillation: nil,
                                                             trainable: nil, blockDone: nil)
        #expect(Swift.abs(split - whole) < 1e-6 * whole)
        for (name, p) in model.namedParameters { #expect(relativeError(splitGrads[p]!, wholeGrads[p]!) < 1e-5, "\(name), ignored targets") }

        let dense = model.clone()
        let student = model.clone()
        student.detachParameters()
        student.blocks[1].mlp = try student.blocks[1].mlp!.keeping(neurons: [0, 3, 7, 11])
        let target = try dense.targets([[9, 9, 9, 9, 9, 9]] + seqs, topK: 5)  // the batch is sequences 1...4 of the targets
        let (kl, klGrads) = try student.lossAndGradients(tokens: tokens, batch: 4, distillation: (target, 1), recompute: false)
        let (splitKL, splitKLGrads) = try student.lossAndGradients(inParts: 2, tokens: tokens, batch: 4, ignoreIndex: nil,
                                                                   distillation: (target, 1), trainable: nil, blockDone: nil)
        #expect(Swift.abs(splitKL - (try student.klDivergence(seqs, to: try dense.targets(seqs, topK: 5)))) < 1e-6 * kl)
        #expect(Swift.abs(splitKL - kl) < 1e-6 * kl)
        for (name, p) in student.namedParameters { #expect(relativeError(splitKLGrads[p]!, klGrads[p]!) < 1e-5, "\(name), distillation") }
    }

    /// `blockDone` sees each block's summed gradients at the points one pass would call it, one call at a time.
    @Test("per-block callbacks come at one pass's points, in its order, never two at once, with complete gradients")
    func blockCallbacks() throws {
        Parallel.threads = 2
        let model = try LanguageModel.random(vocab: 24, hidden: 16, layers: 3, heads: 4, kvHeads: 2, intermediate: 20, headDim: 4, std: 0.3, seed: 4)
        let tokens = (0..<32).map { Int32(($0 * 7) % 24) }
        let (_, wholeGrads) = try model.lossAndGradients(tokens: tokens, batch: 4, recompute: false)
        /// Each call: the block's index (-1: the end), the parameters whose gradients it was given (then taken, as an
        /// optimizer does), and their worst relative error against the whole pass's.
        struct Call: Equatable { let block: Int, parameters: [ObjectIdentifier] }
        func take(_ grads: Gradients, _ block: TransformerBlock?) -> (Call, Double) {
            var worst = 0.0, present: [ObjectIdentifier] = []
            for p in block?.floatParameters ?? model.namedParameters.map(\.1) {
                guard let g = grads.take(p) else { continue }
                present.append(ObjectIdentifier(p))
                worst = max(worst, relativeError(g, wholeGrads[p]!))
            }
            return (Call(block: block.map { b in model.blocks.firstIndex { $0 === b }! } ?? -1, parameters: present), worst)
        }
        var expected: [Call] = []
        _ = try model.lossAndGradients(tokens: tokens, batch: 4, recompute: false) { block, grads in expected.append(take(grads, block).0) }
        let busy = Atomic<Int>(0), overlapped = Atomic<Bool>(false)
        let calls = Mutex<[(Call, Double)]>([])
        _ = try model.lossAndGradients(inParts: 2, tokens: tokens, batch: 4, ignoreIndex: nil, distillation: nil, trainable: nil) { block, grads in
            if busy.add(1, ordering: .sequentiallyConsistent).newValue > 1 { overlapped.store(true, ordering: .sequentiallyConsistent) }
            defer { busy.subtract(1, ordering: .sequentiallyConsistent) }
            usleep(2000)  // long enough for another worker to arrive somewhere meanwhile
            let call = take(grads, block)
            calls.withLock { $0.append(call) }
        }
        let seen = calls.withLock { $0 }
        let overlap = overlapped.load(ordering: .sequentiallyConsistent)
        #expect(!overlap)
        #expect(seen.map(\.0) == expected)
        #expect(seen.count == 2 * model.blocks.count + 1)
        #expect(seen.allSatisfy { $0.1 < 1e-5 }, "\(seen.map(\.1))")
        #expect(Set(seen.flatMap(\.0.parameters)).count == model.namedParameters.count)
    }

    /// Products large enough to be split across the threads in one pass (`[256, 128] x [128, 384]`); each part's stay on
    /// its worker (OpenBLAS blocks a product of other extents differently, so the last bits may differ).
    @Test("a forward pass whose batch is split by sequences among the threads gives one pass's logits")
    func forwardBySequences() throws {
        Parallel.threads = 2
        let model = try LanguageModel.random(vocab: 64, hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 384, std: 0.1, seed: 6)
        let tokens = (0..<256).map { Int32(($0 * 13 + 5) % 64) }
        let split = try model.forward(tokens: tokens, batch: 4).logits
        let whole = try model.forward(tokens: tokens, batch: 4, keepHiddenStates: true).logits  // kept states: one pass
        let error = relativeError(split, whole)
        #expect(error < 1e-6)
        let sequences = (0..<4).map { Array(tokens[($0 * 64)..<(($0 + 1) * 64)]) }
        let student = model.clone()
        student.detachParameters()
        student.blocks[0].mlp = try student.blocks[0].mlp!.keeping(neurons: Array(0..<200))
        let target = try model.targets(sequences, topK: 8)
        // Batches of 4 sequences split in two; of 3 and 1 (3 does not divide between two threads) each in one pass.
        let splitKL = try student.klDivergence(sequences, to: target, batchSize: 4), wholeKL = try student.klDivergence(sequences, to: target, batchSize: 3)
        #expect(splitKL > 1e-4 && Swift.abs(splitKL - wholeKL) < 1e-6 * wholeKL)
        #expect(throws: TensorError.self) { try model.forward(tokens: tokens + [1, 2], batch: 4) }
    }

    /// A part's error comes back from the call once every part has finished; a bad token id in the second part is
    /// named by its position in the whole batch, as one pass names it.
    @Test("an error in one part is the call's error, and names what one pass would name")
    func errorsInParts() throws {
        Parallel.threads = 2
        let ran = Mutex<[Int]>([])
        #expect(throws: TensorError.self) {
            _ = try Parallel.mapParts(2) { part in
                ran.withLock { $0.append(part) }
                if part == 1 { throw TensorError("part 1 failed") }
                return part
            }
        }
        #expect(ran.withLock { $0.sorted() } == [0, 1])
        let model = try LanguageModel.random(vocab: 64, hidden: 64, layers: 1, heads: 2, kvHeads: 1, intermediate: 128, std: 0.1, seed: 3)
        var tokens = (0..<256).map { Int32($0 % 64) }
        tokens[200] = 64  // the fourth sequence: the second part's
        #expect(Parallel.sequenceParts(batch: 4) == 2)
        let expected = "token id 64 at position 201 is outside the vocabulary 0..<64"
        for call in [{ _ = try model.forward(tokens: tokens, batch: 4) },
                     { _ = try model.lossAndGradients(inParts: 2, tokens: tokens, batch: 4, ignoreIndex: nil, distillation: nil,
                                                      trainable: nil, blockDone: nil) }] {
            do { try call(); Issue.record("no error") } catch let error as TensorError {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }

    @Test("trainers that split sequences or products among the threads take the same steps (per-block updates, accumulation)",
          arguments: [1, 2])
    func trainersAgree(accumulation: Int) throws {
        Parallel.threads = 2
        let model = try LanguageModel.random(vocab: 24, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 20, headDim: 4, std: 0.3, seed: 4)
        let tokens = (0..<32).map { Int32(($0 * 5 + 3) % 24) }
        // SGD: AdamW's first steps move each weight by about lr * sign(gradient), so a gradient within rounding of zero
        // could move either way under another summation order.
        var settings = OptimizerSettings()
        settings.kind = .sgd; settings.learningRate = 0.1; settings.weightDecay = 0
        let bySequences = Trainer(model: model.clone(), settings: settings, accumulation: accumulation)
        let byProducts = Trainer(model: model.clone(), settings: settings, accumulation: accumulation)
        bySequences.recompute = false; byProducts.recompute = false
        byProducts.threadSplit = .products
        for _ in 0..<3 {
            let a = try bySequences.step(tokens: tokens, batch: 4), b = try byProducts.step(tokens: tokens, batch: 4)
            #expect(Swift.abs(a - b) < 1e-5 * b)
        }
        let trained = Dictionary(uniqueKeysWithValues: bySequences.model.namedParameters)
        let initial = Dictionary(uniqueKeysWithValues: model.namedParameters)
        for (name, p) in byProducts.model.namedParameters {
            #expect(relativeError(trained[name]!, p) < 1e-5, "\(name)")
            #expect(relativeError(p, initial[name]!) > 1e-4, "\(name) was trained")
        }
    }
}
