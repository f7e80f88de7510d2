import DarwinCore
import Foundation

/// The second-order pruning of single layers at real model shapes.
enum PruningBenchmarks {
    /// A layer of `rows`×`cols` weights with the Hessian of `tokens` random correlated inputs.
    static func layer(rows: Int, cols: Int, tokens: Int, seed: UInt64) throws -> (weight: Tensor, hessian: Tensor) {
        let g = RandomGenerator(seed: seed)
        let x = try Tensor.randn([tokens, cols], generator: g).binary(.mul, try Tensor.rand([cols], generator: g).binary(.add, scalar: 0.1))
        // Low-rank shared factors make the inputs correlated, as real activations are.
        let shared = try Tensor.randn([tokens, 32], generator: g).matmul(try Tensor.randn([32, cols], generator: g).binary(.mul, scalar: 0.3))
        let mixed = try x.binary(.add, shared)
        let hessian = try mixed.t().matmul(mixed).binary(.mul, scalar: Float(2.0 / Double(tokens)))
        return (try Tensor.randn([rows, cols], generator: g).binary(.mul, scalar: 0.02), hessian)
    }

    /// Times the structured OBS of an MLP `down_proj` (`hidden`×`width`, neurons) and an `o_proj` (`hidden`×`heads·headDim`,
    /// heads) with levels in 10% steps down to everything removed. The baseline is the one-at-a-time path on the MLP
    /// at a quarter of the width (its time grows with the cube of the width).
    static func obs(name: String, hidden: Int, width: Int, heads: Int, headDim: Int, tokens: Int) throws -> [BenchRow] {
        let mlp = try layer(rows: hidden, cols: width, tokens: tokens, seed: 1)
        let mlpLevels = PruningLevels.evenlySpaced(structures: width, steps: 10)
        let mlpSeconds = try seconds { _ = try StructuredOBS.prune(weight: mlp.weight, hessian: mlp.hessian, groupSize: 1, levels: mlpLevels) }
        let attention = try layer(rows: hidden, cols: heads * headDim, tokens: tokens, seed: 2)
        let attentionSeconds = try seconds {
            _ = try StructuredOBS.prune(weight: attention.weight, hessian: attention.hessian, groupSize: headDim,
                                        levels: PruningLevels.evenlySpaced(structures: heads, steps: 10))
        }
        let quarter = try layer(rows: hidden, cols: width / 4, tokens: tokens, seed: 3)
        let quarterLevels = PruningLevels.evenlySpaced(structures: width / 4, steps: 10)
        let lazyQuarter = try seconds { _ = try StructuredOBS.prune(weight: quarter.weight, hessian: quarter.hessian, groupSize: 1, levels: quarterLevels) }
        let directQuarter = try seconds {
            _ = try StructuredOBS.prune(weight: quarter.weight, hessian: quarter.hessian, groupSize: 1, levels: quarterLevels, oneAtATime: true)
        }
        return [
            BenchRow(name: "\(name) MLP OBS \(hidden)x\(width), all levels (time)", value: mlpSeconds, unit: "s", baseline: mlpSeconds),
            BenchRow(name: "\(name) attention OBS \(heads) heads x \(headDim) (time)", value: attentionSeconds, unit: "s", baseline: mlpSeconds),
            BenchRow(name: "\(name) MLP OBS width \(width / 4): lazy (time)", value: lazyQuarter, unit: "s", baseline: directQuarter),
            BenchRow(name: "\(name) MLP OBS width \(width / 4): one at a time (time)", value: directQuarter, unit: "s", baseline: directQuarter),
        ]
    }
}
