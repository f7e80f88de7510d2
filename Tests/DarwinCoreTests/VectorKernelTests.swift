import CDarwinSupport
import Foundation
import Testing
@testable import DarwinCore

/// The AVX2 + FMA and AVX-512 kernels and their portable Swift counterparts, each against a float64 reference.
/// A vector width the CPU lacks is skipped.
@Suite("vector kernels: AVX-512, AVX2 and portable")
struct VectorKernelTests {
    static let hasAVX2 = darwin_has_avx2_fma() != 0
    static let hasAVX512 = hasAVX2 && darwin_has_avx512f() != 0

    static func randomValues(_ n: Int, seed: UInt64, range: ClosedRange<Double>) -> [Float] {
        let g = RandomGenerator(seed: seed)
        return (0..<n).map { _ in Float(range.lowerBound + g.uniform() * (range.upperBound - range.lowerBound)) }
    }

    @Test("exp(x - shift) and its float64 sum match libm, lengths not a multiple of 8 or 16 included", arguments: [1, 7, 8, 15, 16, 100, 513, 4099])
    func expShifted(n: Int) {
        let x = Self.randomValues(n, seed: UInt64(n), range: -80...20), shift: Float = 3
        let reference = x.map { Foundation.exp(Double($0 - shift)) }
        let referenceSum = reference.reduce(0, +)
        var kernels: [(String, ([Float], inout [Float]) -> Double)] = [("portable", { x, out in
            x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { VectorMath.expShiftedPortable(xp.baseAddress!, $0.baseAddress!, n, shift: shift) } }
        })]
        if Self.hasAVX2 {
            kernels.append(("avx2", { x, out in
                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { darwin_exp_shifted_avx2(xp.baseAddress!, $0.baseAddress!, n, shift) } }
            }))
        }
        if Self.hasAVX512 {
            kernels.append(("avx512", { x, out in
                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { darwin_exp_shifted_avx512(xp.baseAddress!, $0.baseAddress!, n, shift) } }
            }))
        }
        for (name, kernel) in kernels {
            var out = [Float](repeating: .nan, count: n)
            let sum = kernel(x, &out)
            var worst = 0.0
            for i in 0..<n { worst = max(worst, Swift.abs(Double(out[i]) - reference[i]) / reference[i]) }
            #expect(worst < 3e-7, "\(name): worst relative error \(worst)")
            #expect(Swift.abs(sum - referenceSum) / referenceSum < 1e-6, "\(name): sum \(sum) vs \(referenceSum)")
        }
    }

    @Test("bfloat16 row · float32 vector (decoding against 16-bit weights)", arguments: [3, 16, 40, 385])
    func bf16Dot(n: Int) {
        let w = Self.randomValues(n, seed: UInt64(n), range: -2...2).map { HalfPrecision.floatToBF16($0) }
        let x = Self.randomValues(n, seed: UInt64(n + 1), range: -1...1)
        let reference = zip(w, x).map { Double(Float(bitPattern: UInt32($0) << 16)) * Double($1) }.reduce(0, +)
        let scale = zip(w, x).map { Swift.abs(Double(Float(bitPattern: UInt32($0) << 16)) * Double($1)) }.reduce(0, +)
        w.withUnsafeBufferPointer { wp in
            x.withUnsafeBufferPointer { xp in
                #expect(Swift.abs(Double(WeightProducts.bf16Dot(wp.baseAddress!, xp.baseAddress!, n)) - reference) <= 1e-6 * scale)
                if Self.hasAVX2 {
                    #expect(Swift.abs(Double(darwin_bf16_dot_avx2(wp.baseAddress!, xp.baseAddress!, n)) - reference) <= 1e-6 * scale)
                }
            }
        }
    }

    @Test("swiglu: silu(gate) * up", arguments: [5, 17, 64, 1001])
    func swiglu(n: Int) {
        let gate = Self.randomValues(n, seed: 7, range: -30...30), up = Self.randomValues(n, seed: 8, range: -2...2)
        let reference = (0..<n).map { i -> Double in let a = Double(gate[i]); return a / (1 + Foundation.exp(-a)) * Double(up[i]) }
        var outputs: [(String, [Float])] = []
        var portable = gate
        portable.withUnsafeMutableBufferPointer { g in up.withUnsafeBufferPointer { LayerKernels.swigluPortable(g.baseAddress!, $0.baseAddress!, n) } }
        outputs.append(("portable", portable))
        if Self.hasAVX2 {
            var fast = gate
            fast.withUnsafeMutableBufferPointer { g in up.withUnsafeBufferPointer { darwin_swiglu_avx2(g.baseAddress!, $0.baseAddress!, n) } }
            outputs.append(("avx2", fast))
        }
        if Self.hasAVX512 {
            var wide = gate
            wide.withUnsafeMutableBufferPointer { g in up.withUnsafeBufferPointer { darwin_swiglu_avx512(g.baseAddress!, $0.baseAddress!, n) } }
            outputs.append(("avx512", wide))
        }
        for (name, out) in outputs {
            for i in 0..<n { #expect(Swift.abs(Double(out[i]) - reference[i]) <= 1e-6 * (1 + Swift.abs(reference[i])), "\(name) at \(i)") }
        }
    }

    /// Causal grouped-query attention in float64, straight from the definition (query i sees keys i-window+1...i).
    static func referenceAttention(q: Tensor, k: Tensor, v: Tensor, kvOfQuery: [Int], batch: Int, seq: Int, hd: Int, window: Int? = nil) -> [Double] {
        let nq = kvOfQuery.count, nkv = k.shape[1] / hd
        var out = [Double](repeating: 0, count: batch * seq * nq * hd)
        for b in 0..<batch {
            for h in 0..<nq {
                let g = kvOfQuery[h]
                for i in 0..<seq {
                    let qi = q.data + (b * seq + i) * nq * hd + h * hd
                    let first = window.map { Swift.max(0, i - $0 + 1) } ?? 0
                    var scores = (first...i).map { j -> Double in
                        let kj = k.data + (b * seq + j) * nkv * hd + g * hd
                        return (0..<hd).reduce(0.0) { $0 + Double(qi[$1]) * Double(kj[$1]) } / Double(hd).squareRoot()
                    }
                    let m = scores.max()!
                    scores = scores.map { Foundation.exp($0 - m) }
                    let total = scores.reduce(0, +)
                    for j in first...i {
                        let vj = v.data + (b * seq + j) * nkv * hd + g * hd
                        for d in 0..<hd { out[(b * seq + i) * nq * hd + h * hd + d] += scores[j - first] / total * Double(vj[d]) }
                    }
                }
            }
        }
        return out
    }

    @Test("causal attention: fused AVX-512 and AVX2 kernels and sgemm path match float64, uneven head groups and odd lengths, with and without sliding windows",
          arguments: [(2, 1, 8, [0]), (1, 5, 32, [0, 0, 0, 1, 1, 1]), (1, 9, 8, [0, 0]), (2, 20, 8, [0]), (2, 37, 16, [0, 0, 2, 2, 2]),
                      (1, 64, 16, [0, 1, 1]), (1, 130, 24, [1, 0, 1]), (1, 70, 64, [0, 1]), (1, 13, 48, [0]), (1, 100, 80, [0, 0])],
          // 20 and 64 positions: key rows padded; 13: a last block of 1 row; head sizes 48 and 80: a last 16 columns alone
          [nil, 1, 3, 64] as [Int?])
    func attention(shape: (batch: Int, seq: Int, hd: Int, kvOfQuery: [Int]), window: Int?) throws {
        let (batch, seq, hd, kvOfQuery) = shape
        let nq = kvOfQuery.count, nkv = (kvOfQuery.max() ?? 0) + 1
        let q = try Tensor.randn([batch * seq, nq * hd]), k = try Tensor.randn([batch * seq, nkv * hd])
        let v = try Tensor.randn([batch * seq, nkv * hd])
        try q.binaryInPlace(.mul, scalar: 2)  // sharper softmax rows
        let reference = Self.referenceAttention(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, hd: hd, window: window)
        var results = [("sgemm", LayerKernels.causalAttentionBLAS(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd,
                                                                  window: window))]
        if Self.hasAVX2 {
            results.append(("avx2", LayerKernels.causalAttentionFused(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd,
                                                                     window: window, kernel: .avx2)))
        }
        if Self.hasAVX512 && hd % 16 == 0 {
            results.append(("avx512", LayerKernels.causalAttentionFused(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd,
                                                                       window: window, kernel: .avx512)))
        }
        #expect(results.count == 1 + (Self.hasAVX2 ? 1 : 0) + (Self.hasAVX512 && hd % 16 == 0 ? 1 : 0))
        for (name, out) in results {
            var worst = 0.0
            for i in 0..<reference.count { worst = max(worst, Swift.abs(Double(out.data[i]) - reference[i])) }
            #expect(worst < 2e-5, "\(name): worst absolute error \(worst)")
        }
    }

    @Test("dynamic chunks cover every index exactly once, in chunks of the requested size")
    func dynamicChunks() {
        Parallel.threads = 2
        for (count, chunk) in [(0, 3), (1, 3), (96, 3), (97, 8), (5, 100)] {
            let seen = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            seen.initialize(repeating: 0, count: max(count, 1))
            defer { seen.deallocate() }
            Parallel.forEachDynamicChunk(count: count, chunk: chunk) { range in
                #expect(range.count <= chunk && range.lowerBound % chunk == 0)
                for i in range { seen[i] += 1 }  // chunks are disjoint, so no two workers write one slot
            }
            #expect((0..<count).allSatisfy { seen[$0] == 1 }, "count \(count), chunk \(chunk)")
        }
    }
}
