import Foundation
import Testing
@testable import DarwinCore

@Suite("reductions, softmax, norms")
struct ReduceTests {
    /// Float64 reference reduction of `t` along `d`.
    static func reference(_ t: Tensor, dim d: Int, _ f: ([Double]) -> Double) -> [Double] {
        var outShape = t.shape
        outShape.remove(at: d)
        return Reference.indices(outShape).map { idx in
            var full = idx
            full.insert(0, at: d)
            return f((0..<t.shape[d]).map { full[d] = $0; return Reference.at(t, full) })
        }
    }

    @Test("sum, mean, max, min, argmax along every dimension of random shapes", arguments: 0..<12)
    func alongDims(seed: Int) throws {
        let g = RandomGenerator(seed: UInt64(100 + seed))
        let t = try Tensor.randn(Reference.shape(g, rank: g.integer(1, 4), maxSize: 7), generator: g)
        for d in 0..<t.rank {
            #expect(Reference.maxError(try t.reduce(.sum, dim: d).doubles, Self.reference(t, dim: d) { $0.reduce(0, +) }) < 1e-6)
            #expect(Reference.maxError(try t.reduce(.mean, dim: d).doubles, Self.reference(t, dim: d) { $0.reduce(0, +) / Double($0.count) }) < 1e-6)
            #expect(try t.reduce(.max, dim: d).doubles == Self.reference(t, dim: d) { $0.max()! })
            #expect(try t.reduce(.min, dim: d).doubles == Self.reference(t, dim: d) { $0.min()! })
            #expect(try t.reduce(.argmax, dim: d).doubles == Self.reference(t, dim: d) { Double($0.firstIndex(of: $0.max()!)!) })
            let kept = try t.reduce(.sum, dim: d, keepdim: true)
            #expect(kept.rank == t.rank && kept.shape[d] == 1)
        }
    }

    @Test("sums accumulate in float64: 1e7 ones plus a large offset")
    func float64Accumulation() throws {
        let t = try Tensor.ones([10_000_000])
        #expect(t.sumAll() == 10_000_000)  // a float32 accumulator stops at 16777216 / loses increments
        let mixed = try Tensor([1e8, 1, 1, 1, 1, -1e8], shape: [6])
        #expect(mixed.sumAll() == 4)
    }

    @Test("softmax and log_softmax along each dim match float64 and are stable for large inputs", arguments: 0..<6)
    func softmax(seed: Int) throws {
        let g = RandomGenerator(seed: UInt64(seed))
        let t = try Tensor.randn(Reference.shape(g, rank: 3, maxSize: 6), generator: g).binary(.mul, scalar: 30)
        for d in 0..<3 {
            let s = try t.softmax(dim: d), ls = try t.logSoftmax(dim: d)
            var idxs = Reference.indices(t.shape)
            idxs = idxs.filter { _ in true }
            for idx in idxs {
                var full = idx
                let row = (0..<t.shape[d]).map { full[d] = $0; return Reference.at(t, full) }
                let m = row.max()!
                let lse = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
                let x = Reference.at(t, idx)
                #expect(Swift.abs(Reference.at(ls, idx) - (x - lse)) < 1e-4)
                #expect(Swift.abs(Reference.at(s, idx) - Foundation.exp(x - lse)) < 1e-6)
            }
        }
        let huge = try Tensor([1000, 1001, 1002], shape: [3]).softmax(dim: 0)
        #expect(huge.toArray().allSatisfy { $0.isFinite } && Swift.abs(huge.sumAll() - 1) < 1e-6)
    }

    @Test("norms: p = 2, 1, inf and along a dimension")
    func norms() throws {
        let t = try Tensor([3, -4, 0, 12], shape: [2, 2])
        #expect(t.norm() == 13)
        #expect(t.norm(1) == 19)
        #expect(t.norm(.infinity) == 12)
        #expect(try t.norm(2, dim: 1).toArray() == [5, 12])
        #expect(try t.norm(2, dim: 0).toArray() == [3, Float((16.0 + 144).squareRoot())])
        #expect(try t.norm(2, dim: 0, keepdim: true).shape == [1, 2])
    }

    @Test("reductions over empty dims and bad dims are errors")
    func errors() throws {
        let t = try Tensor.zeros([2, 0])
        #expect(throws: TensorError.self) { try t.reduce(.max, dim: 1) }
        #expect(try t.reduce(.sum, dim: 1).toArray() == [0, 0])
        #expect(throws: TensorError.self) { try t.reduce(.sum, dim: 2) }
        #expect(throws: TensorError.self) { try t.maxAll() }
    }
}

@Suite("vector math")
struct VectorMathTests {
    @Test("vectorised exp matches libm to ~2e-7 relative error over the float range")
    func exp() {
        let g = RandomGenerator(seed: 4)
        var worst: Float = 0
        for _ in 0..<20000 {
            var v = SIMD8<Float>()
            for k in 0..<8 { v[k] = Float(g.uniform() * 170 - 86) }
            let e = VectorMath.exp(v)
            for k in 0..<8 {
                let ref = Foundation.exp(Double(v[k]))
                worst = max(worst, Float(Swift.abs(Double(e[k]) - ref) / ref))
            }
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(VectorMath.exp(SIMD8(repeating: 0)) == SIMD8(repeating: 1))
        #expect(VectorMath.exp(SIMD8(repeating: -200)).max() < 1e-37)
    }
}
