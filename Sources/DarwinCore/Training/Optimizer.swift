import CDarwinSupport
import Foundation

/// Learning-rate schedules.
public enum LearningRateSchedule: Equatable {
    case constant
    /// Linear warmup over `warmup` steps, then cosine decay to `minRatio * lr` at `total` steps.
    case warmupCosine(warmup: Int, total: Int, minRatio: Double)

    /// The multiplier of the base learning rate at step `step` (1-based).
    public func factor(step: Int) -> Double {
        switch self {
        case .constant: return 1
        case .warmupCosine(let warmup, let total, let minRatio):
            if step <= warmup { return Double(step) / Double(max(warmup, 1)) }
            let progress = min(1, Double(step - warmup) / Double(max(total - warmup, 1)))
            return minRatio + (1 - minRatio) * 0.5 * (1 + Foundation.cos(Double.pi * progress))
        }
    }
}

/// Optimizer settings (the defaults of `torch.optim.AdamW`).
public struct OptimizerSettings {
    public enum Kind: String { case adamw, sgd }
    public var kind: Kind = .adamw
    public var learningRate = 1e-3
    public var beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8
    public var weightDecay = 0.01
    /// SGD momentum.
    public var momentum = 0.0
    public var schedule: LearningRateSchedule = .constant
    /// Steps of `schedule` already taken elsewhere: training in phases (with fresh optimizer state, as when the
    /// model's shapes change between them) follows one schedule. Bias correction still counts this optimizer's steps.
    public var scheduleOffset = 0
    /// Clip the global gradient norm to this value (nil: no clipping).
    public var clipNorm: Double?
    /// How the moments are stored: float32 (as `torch.optim.AdamW`), or bf16 with stochastic rounding (half the
    /// memory: 4 bytes per trained value for AdamW instead of 8).
    public var stateFormat: StateFormat = .float32
    /// Storage formats of the optimizer's moments.
    public enum StateFormat: String, CaseIterable { case float32, bf16 }
    public init() {}
}

/// AdamW (decoupled weight decay, bias correction, as `torch.optim.AdamW`) or SGD with momentum, over a
/// chosen set of parameter tensors. Moment buffers are allocated once per parameter, at its first update.
public final class Optimizer {
    public let settings: OptimizerSettings
    /// Parameters updated, with their names.
    public let parameters: [(String, Tensor)]
    /// Steps taken.
    public private(set) var step = 0
    private var first: [ObjectIdentifier: MomentBuffer] = [:], second: [ObjectIdentifier: MomentBuffer] = [:]
    /// Each parameter's position in `parameters`, which seeds its stochastic rounding.
    private let index: [ObjectIdentifier: Int]

    public init(parameters: [(String, Tensor)], settings: OptimizerSettings) {
        self.parameters = parameters
        self.settings = settings
        index = Dictionary(parameters.enumerated().map { (ObjectIdentifier($1.1), $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Bytes of the moment buffers once every parameter has been updated (they are allocated at the first step).
    public var stateBytes: Int {
        let buffers = settings.kind == .adamw ? 2 : (settings.momentum != 0 ? 1 : 0)
        return buffers * parameters.map(\.1.count).reduce(0, +) * (settings.stateFormat == .float32 ? 4 : 2)
    }

    /// The moment buffer of `p` in `buffers`, made (zeroed) at its first use.
    private func moment(_ buffers: inout [ObjectIdentifier: MomentBuffer], _ p: Tensor) throws -> MomentBuffer {
        if let m = buffers[ObjectIdentifier(p)] { return m }
        // The state is mapped during the first step, between the backward pass's short-lived buffers: the heap's
        // free pages go back first, so that the state does not stack on memory the heap keeps but no longer uses
        // (unless a trainer holds them: `HeapRetention`).
        HeapRetention.returnFreeHeapPages()
        let format: MomentBuffer.Format = settings.stateFormat == .float32 ? .float32 : .bf16
        let m = try MomentBuffer(format: format, count: p.count)
        buffers[ObjectIdentifier(p)] = m
        return m
    }

    /// The rounding seed of `p`'s moments at this step.
    private func seed(_ p: Tensor) -> UInt64 {
        UInt64(step) &* 0xD1B5_4A32_D192_ED03 ^ UInt64(index[ObjectIdentifier(p)] ?? 0) &* 0xA24B_AED4_963E_E407
    }

    /// The learning rate the next step will use.
    public var currentLearningRate: Double { settings.learningRate * settings.schedule.factor(step: settings.scheduleOffset + step + 1) }

    /// Applies one update from `grads`; returns the global gradient norm before clipping.
    @discardableResult
    public func apply(_ grads: Gradients) throws -> Double {
        let norm = grads.globalNorm()
        if let clip = settings.clipNorm, norm > clip { grads.scale(by: Float(clip / (norm + 1e-6))) }
        let lr = beginStep()
        for (_, p) in parameters {
            if let g = grads[p] { try update(p, g, lr: lr) }
        }
        return norm
    }

    /// Starts a step whose updates `update` then applies parameter by parameter (as their gradients become
    /// complete); returns the step's learning rate.
    public func beginStep() -> Double {
        let lr = currentLearningRate
        step += 1
        return lr
    }

    /// Updates one parameter from its gradient within the step begun by `beginStep`; throws when its optimizer state
    /// cannot be allocated.
    public func update(_ p: Tensor, _ g: Tensor, lr: Double) throws {
        switch settings.kind {
        case .adamw: try adamw(p, g, lr: lr)
        case .sgd: try sgd(p, g, lr: lr)
        }
    }

    private func adamw(_ p: Tensor, _ g: Tensor, lr: Double) throws {
        let m = try moment(&first, p), v = try moment(&second, p)
        let s = settings
        let b1 = Float(s.beta1), b2 = Float(s.beta2)
        let c1 = 1 - Foundation.pow(s.beta1, Double(step)), c2 = 1 - Foundation.pow(s.beta2, Double(step))
        let stepSize = Float(lr / c1), decay = Float(1 - lr * s.weightDecay)
        let sqrtC2 = Float(c2.squareRoot()), eps = Float(s.epsilon)
        let pp = p.data, pg = g.data, seed = seed(p)
        let constants = darwin_adamw_constants(beta1: b1, beta2: b2, step_size: stepSize, decay: decay, sqrt_bias2: sqrtC2, epsilon: eps)
        Parallel.forEachChunk(count: p.count, minimumChunk: 1 << 15) { range in
            MomentBuffer.withFloats(m, v, range: range, seed: seed) { pm, pv, offset, n in
                Optimizer.adamwUpdate(pp + offset, pg + offset, pm, pv!, count: n, constants)
            }
        }
    }

    /// AdamW's arithmetic on `count` values in place: the AVX2 kernel where the CPU has it (memory-bound: 23 ms
    /// against this loop's 132 ms for 20M values on one thread), else the same operations in the same order here;
    /// both give the same bits.
    static func adamwUpdate(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                            _ v: UnsafeMutablePointer<Float>, count n: Int, _ c: darwin_adamw_constants,
                            vectorised: Bool = VectorMath.useAVX2) {
        if vectorised {
            withUnsafePointer(to: c) { darwin_adamw_avx2(p, g, m, v, n, $0) }
            return
        }
        for i in 0..<n {
            p[i] *= c.decay
            m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i]
            v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i]
            p[i] -= c.step_size * m[i] / ((v[i].squareRoot() / c.sqrt_bias2) + c.epsilon)
        }
    }

    private func sgd(_ p: Tensor, _ g: Tensor, lr: Double) throws {
        let s = settings, pp = p.data, pg = g.data
        let decay = Float(s.weightDecay), rate = Float(lr)
        if s.momentum == 0 {
            for i in 0..<p.count { pp[i] -= rate * (pg[i] + decay * pp[i]) }
            return
        }
        let buffer = try moment(&first, p)
        let mu = Float(s.momentum), firstStep = step == 1
        MomentBuffer.withFloats(buffer, nil, range: 0..<p.count, seed: seed(p)) { pb, _, offset, n in
            for j in 0..<n {
                let i = offset + j, d = pg[i] + decay * pp[i]
                pb[j] = firstStep ? d : mu * pb[j] + d
                pp[i] -= rate * pb[j]
            }
        }
    }
}
