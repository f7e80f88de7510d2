import CDarwinSupport
import Foundation
import Testing
@testable import DarwinCore

@Suite("training: bf16 optimizer state")
struct OptimizerStateTests {
    /// A value between two bf16 neighbours must round to each in proportion to its distance from the other, so the
    /// mean of many roundings is the value itself (round-to-nearest would always give 1.0 here).
    @Test("stochastic rounding to bf16 is unbiased, keeps special values, and decays a moment that round-to-nearest freezes")
    func unbiasedRounding() {
        let value: Float = 1 + 0x1p-10  // bf16 neighbours: 1 and 1 + 2^-7
        var sum = 0.0
        let n = 200_000
        for i in 0..<n {
            let bits = MomentBuffer.stochasticBF16(value, noise: MomentBuffer.noise(42, i))
            let rounded = Float(bitPattern: UInt32(bits) << 16)
            #expect(rounded == 1 || rounded == 1 + 0x1p-7)
            sum += Double(rounded)
        }
        #expect(Swift.abs(sum / Double(n) - Double(value)) < 2e-5)
        #expect(Float(bitPattern: UInt32(MomentBuffer.stochasticBF16(-value, noise: 0xFFFF)) << 16) == -(1 + 0x1p-7))
        #expect(Float(bitPattern: UInt32(MomentBuffer.stochasticBF16(.infinity, noise: 0xFFFF)) << 16) == .infinity)
        #expect(Float(bitPattern: UInt32(MomentBuffer.stochasticBF16(.nan, noise: 0xFFFF)) << 16).isNaN)
        // A second moment decaying by 0.999 per step: after 2000 steps it is e^-2 of where it started.
        var stored: Float = 1
        for step in 0..<2000 {
            stored = Float(bitPattern: UInt32(MomentBuffer.stochasticBF16(stored * 0.999, noise: MomentBuffer.noise(UInt64(step), 0))) << 16)
        }
        #expect(Swift.abs(Double(stored) - Foundation.exp(-2.0)) < 0.02, "decayed to \(stored)")
        #expect(HalfPrecision.floatToBF16(0.999) == HalfPrecision.floatToBF16(1))  // what nearest rounding would do
    }

    /// Transformers' gradients of a fixture, one AdamW step with each state format: the bf16 moments change each
    /// update by at most a few times bf16's relative precision (2^-8).
    @Test("one AdamW step with bf16 moments is within bf16 precision of torch's float32 step", arguments: Fixtures.families)
    func oneStep(family: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(family), keepHalf: false)
        let ref = try Fixtures.reference(family)
        let before = model.namedParameters.map { ($0.0, $0.1.clone()) }
        let grads = Gradients()
        for (name, p) in model.namedParameters { try grads.accumulate(p, try ref.tensor("grad." + name)) }
        var settings = OptimizerSettings()
        settings.learningRate = 1e-2; settings.beta2 = 0.95; settings.weightDecay = 0.1; settings.stateFormat = .bf16
        let optimizer = Optimizer(parameters: model.namedParameters, settings: settings)
        try optimizer.apply(grads)
        #expect(optimizer.stateBytes == 4 * model.namedParameters.map(\.1.count).reduce(0, +))
        for ((name, p), (_, old)) in zip(model.namedParameters, before) {
            let expected = try ref.tensor("adamw." + name)
            for i in 0..<p.count {
                let step = Swift.abs(expected.data[i] - old.data[i])
                #expect(Swift.abs(p.data[i] - expected.data[i]) <= 0.02 * step + 1e-7, "\(family) \(name)[\(i)]")
            }
        }
    }

    /// The AVX2 AdamW kernel and the portable loop over the same random state for three steps, at lengths that end
    /// inside a vector, with gradients that include zeros and values far apart in scale: the same bits.
    @Test("the vectorised AdamW update gives the portable loop's bits", arguments: [1, 7, 8, 13, 1000])
    func vectorisedAdamW(count: Int) throws {
        guard VectorMath.useAVX2 else { return }  // nothing to compare on a CPU without AVX2
        let g = RandomGenerator(seed: UInt64(count))
        // parameters, first and second moments (kept positive) of each path
        let start = [Tensor(shape: [count], repeating: 0), Tensor(shape: [count], repeating: 0), Tensor(shape: [count], repeating: 0)]
        for (k, t) in start.enumerated() { for i in 0..<count { t.data[i] = Float(g.uniform() - (k == 2 ? 0 : 0.5)) * 0.2 } }
        let paths = [start.map { $0.clone() }, start.map { $0.clone() }]
        let gradient = Tensor(shape: [count], repeating: 0)
        for step in 1...3 {
            for i in 0..<count { gradient.data[i] = i % 5 == 0 ? 0 : Float(g.uniform() - 0.5) * (i % 2 == 0 ? 1e-6 : 3) }
            let c1 = 1 - Foundation.pow(0.9, Double(step)), c2 = 1 - Foundation.pow(0.95, Double(step))
            let constants = darwin_adamw_constants(beta1: 0.9, beta2: 0.95, step_size: Float(1e-2 / c1), decay: Float(1 - 1e-3),
                                                   sqrt_bias2: Float(c2.squareRoot()), epsilon: 1e-8)
            for (path, vectorised) in zip(paths, [true, false]) {
                Optimizer.adamwUpdate(path[0].data, gradient.data, path[1].data, path[2].data, count: count, constants, vectorised: vectorised)
            }
        }
        for k in 0..<3 {
            #expect(paths[0][k].toArray().map(\.bitPattern) == paths[1][k].toArray().map(\.bitPattern), "state \(k)")
            #expect(paths[0][k].toArray() != start[k].toArray())
        }
    }

    @Test("a trainer with bf16 moments learns as well as with float32 moments (Lua option state_dtype)")
    func learnsLikeFloat32() throws {
        let pattern: [Int32] = [3, 7, 1, 9, 4, 4, 12, 30, 2, 5, 17, 8]
        let tokens = Array((0..<4).flatMap { _ in pattern + pattern }.prefix(4 * 24))
        var losses: [OptimizerSettings.StateFormat: Double] = [:]
        for format in OptimizerSettings.StateFormat.allCases {
            let model = try LanguageModel.random(vocab: 32, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, std: 0.1, seed: 3)
            var settings = OptimizerSettings()
            settings.learningRate = 3e-3; settings.stateFormat = format
            let trainer = Trainer(model: model, settings: settings)
            var last = 0.0
            for _ in 0..<60 { last = try trainer.step(tokens: tokens, batch: 4) }
            losses[format] = last
        }
        let f32 = losses[.float32]!, bf16 = losses[.bf16]!
        print("loss after 60 steps: float32 moments \(f32), bf16 moments \(bf16)")
        #expect(f32 < 1.0 && Swift.abs(bf16 - f32) < 0.1 * f32 + 0.02)
    }
}
