import CDarwinSupport
import Foundation
import Testing
@testable import DarwinCore

/// The training step's row kernels (RMSNorm forward and backward, SwiGLU backward), AVX-512 and portable, each
/// against float64. The AVX-512 kernels are skipped on a CPU without AVX-512.
@Suite("row kernels of a training step: AVX-512 and portable")
struct RowKernelTests {
    static let eps = 1e-5

    /// Lengths below, at and beyond one 16-lane vector, and a hidden size.
    static let lengths = [1, 7, 8, 9, 16, 17, 960, 1001]

    @Test("RMSNorm of a row matches float64", arguments: lengths)
    func rmsNorm(n: Int) {
        var x = VectorKernelTests.randomValues(n, seed: UInt64(n), range: -3...3)
        var w = VectorKernelTests.randomValues(n, seed: UInt64(n + 1), range: 0.5...1.5)
        let r = 1 / (x.map { Double($0) * Double($0) }.reduce(0, +) / Double(n) + Self.eps).squareRoot()
        let reference = (0..<n).map { Double(w[$0]) * Double(x[$0]) * r }
        var kernels: [(String, (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void)] = [
            ("portable", { LayerKernels.rmsNormRow($0, $1, $2, n, eps: Self.eps) })]
        if VectorKernelTests.hasAVX512 { kernels.append(("avx512", { darwin_rmsnorm_row_avx512($0, $1, $2, n, Self.eps) })) }
        for (name, kernel) in kernels {
            var out = [Float](repeating: .nan, count: n + 1)  // one more: nothing is written past the row
            x.withUnsafeMutableBufferPointer { xp in w.withUnsafeMutableBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { kernel(xp.baseAddress!, wp.baseAddress!, $0.baseAddress!) } } }
            let worst = (0..<n).map { Swift.abs(Double(out[$0]) - reference[$0]) / max(Swift.abs(reference[$0]), 1e-3) }.max()!
            #expect(worst < 1e-6, "\(name): worst relative error \(worst)")
            #expect(out[n].isNaN, "\(name) wrote past the row")
        }
    }

    @Test("RMSNorm backward of a row: dx (written, and added to what is there) and dw match float64", arguments: lengths)
    func rmsNormBackward(n: Int) {
        var x = VectorKernelTests.randomValues(n, seed: UInt64(n), range: -3...3)
        var w = VectorKernelTests.randomValues(n, seed: UInt64(n + 1), range: 0.5...1.5)
        var dy = VectorKernelTests.randomValues(n, seed: UInt64(n + 2), range: -1...1)
        let residual = VectorKernelTests.randomValues(n, seed: UInt64(n + 3), range: -1...1)
        let (xd, wd, gd) = (x.map(Double.init), w.map(Double.init), dy.map(Double.init))
        let r = 1 / (xd.map { $0 * $0 }.reduce(0, +) / Double(n) + Self.eps).squareRoot()
        let dot = (0..<n).map { wd[$0] * gd[$0] * xd[$0] }.reduce(0, +)
        let dx = (0..<n).map { r * wd[$0] * gd[$0] - xd[$0] * r * r * r * dot / Double(n) }
        let dw = (0..<n).map { 0.25 + gd[$0] * xd[$0] * r }  // added to 0.25 already there
        // Errors are measured against the size of the terms that make each value (dx's two terms nearly cancel at n = 1).
        let dxTerms = (0..<n).map { Swift.abs(r * wd[$0] * gd[$0]) + Swift.abs(xd[$0] * r * r * r * dot / Double(n)) }
        let dwTerms = (0..<n).map { 0.25 + Swift.abs(gd[$0] * xd[$0] * r) }
        typealias Kernel = (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                            UnsafeMutablePointer<Double>, Bool) -> Void
        var kernels: [(String, Kernel)] = [("portable", {
            BackwardKernels.rmsNormRowPortable($0, $1, dy: $2, dx: $3, dw: $4, n, eps: Self.eps, accumulate: $5) })]
        if VectorKernelTests.hasAVX512 {
            kernels.append(("avx512", { darwin_rmsnorm_backward_row_avx512($0, $1, $2, $3, $4, n, Self.eps, $5 ? 1 : 0) }))
        }
        for (name, kernel) in kernels {
            for accumulate in [false, true] {
                var out = accumulate ? residual + [.nan] : [Float](repeating: .nan, count: n + 1)
                var gradW = [Double](repeating: 0.25, count: n) + [.nan]
                x.withUnsafeMutableBufferPointer { xp in w.withUnsafeMutableBufferPointer { wp in dy.withUnsafeMutableBufferPointer { gp in
                    out.withUnsafeMutableBufferPointer { op in gradW.withUnsafeMutableBufferPointer {
                        kernel(xp.baseAddress!, wp.baseAddress!, gp.baseAddress!, op.baseAddress!, $0.baseAddress!, accumulate) } } } } }
                let expected = (0..<n).map { dx[$0] + (accumulate ? Double(residual[$0]) : 0) }
                let worst = (0..<n).map { i -> Double in
                    let terms: Double = dxTerms[i] + (accumulate ? Swift.abs(Double(residual[i])) : 0)
                    return Swift.abs(Double(out[i]) - expected[i]) / terms
                }.max()!
                #expect(worst < 1e-6, "\(name) accumulate \(accumulate): dx worst error \(worst)")
                let worstW = (0..<n).map { Swift.abs(gradW[$0] - dw[$0]) / dwTerms[$0] }.max()!
                #expect(worstW < 1e-6, "\(name) accumulate \(accumulate): dw worst error \(worstW)")
                #expect(out[n].isNaN && gradW[n].isNaN, "\(name) wrote past the row")
            }
        }
    }

    @Test("SwiGLU backward matches float64, the gradient of the product read from one of the outputs", arguments: lengths)
    func swigluBackward(n: Int) {
        var gate = VectorKernelTests.randomValues(n, seed: UInt64(n), range: -8...8)
        var up = VectorKernelTests.randomValues(n, seed: UInt64(n + 1), range: -2...2)
        let da = VectorKernelTests.randomValues(n, seed: UInt64(n + 2), range: -1...1)
        let s = gate.map { 1 / (1 + Foundation.exp(-Double($0))) }
        let dUp = (0..<n).map { Double(da[$0]) * Double(gate[$0]) * s[$0] }
        let dGate = (0..<n).map { i -> Double in
            let slope: Double = 1 + Double(gate[i]) * (1 - s[i])
            return Double(da[i]) * Double(up[i]) * s[i] * slope
        }
        typealias Kernel = (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
        var kernels: [(String, Kernel)] = [("portable", { BackwardKernels.swigluPortable(gate: $0, up: $1, da: $2, dGate: $2, dUp: $3, n) })]
        if VectorKernelTests.hasAVX512 { kernels.append(("avx512", { darwin_swiglu_backward_avx512($0, $1, $2, $2, $3, n) })) }
        for (name, kernel) in kernels {
            var dg = da + [.nan], du = [Float](repeating: .nan, count: n + 1)  // da is overwritten with dgate
            gate.withUnsafeMutableBufferPointer { gp in up.withUnsafeMutableBufferPointer { upp in dg.withUnsafeMutableBufferPointer { dgp in
                du.withUnsafeMutableBufferPointer { kernel(gp.baseAddress!, upp.baseAddress!, dgp.baseAddress!, $0.baseAddress!) } } } }
            let scale = max((dGate + dUp).map(Swift.abs).max()!, 1e-3)
            let worst = (0..<n).map { i -> Double in
                let eg: Double = Swift.abs(Double(dg[i]) - dGate[i]), eu: Double = Swift.abs(Double(du[i]) - dUp[i])
                return max(eg, eu) / scale
            }.max()!
            #expect(worst < 1e-6, "\(name): worst error \(worst)")
            #expect(dg[n].isNaN && du[n].isNaN, "\(name) wrote past the end")
        }
    }

    @Test("the head's chunks: the fewest of at most the limit, of one size; larger while activations are kept")
    func headChunks() throws {
        #expect(LanguageModel.evenChunkRows(1024, limit: 341) == 256)
        #expect(LanguageModel.evenChunkRows(1024, limit: 800) == 512)
        #expect(LanguageModel.evenChunkRows(1000, limit: 300) == 250)
        #expect(LanguageModel.evenChunkRows(10, limit: 3) == 3)  // 3, 3, 3, 1: four chunks either way
        #expect(LanguageModel.evenChunkRows(12, limit: 64) == 12)
        #expect(LanguageModel.evenChunkRows(5, limit: 0) == 1)
        let (model, _, _, _) = try Fixtures.load(Fixtures.families[0])
        let base = model.headChunkRows
        #expect(model.headChunkRows(besides: 0) == base)
        let logitsBytes = 4 * Double(model.config.vocabSize)
        #expect(model.headChunkRows(besides: 8 * logitsBytes * Double(base * 3)) == base * 3)
        #expect(model.headChunkRows(besides: .infinity) > 0)
    }
}
