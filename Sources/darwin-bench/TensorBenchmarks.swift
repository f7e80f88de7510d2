import DarwinCore
import DarwinLua

/// Tensor-level benchmarks: each measures darwinhost's path and a baseline in the same run.
enum TensorBenchmarks {
    /// sgemm through `Tensor.matmul` and through Lua, against a direct `cblas_sgemm` call (the machine's ceiling).
    static func matmul(size n: Int, repeats: Int) throws -> [BenchRow] {
        let a = try Tensor.randn([n, n]), b = try Tensor.randn([n, n])
        let flops = 2.0 * Double(n * n * n)
        let ceiling = try sgemmCeiling(size: n, repeats: repeats)
        let viaTensor = try medianSeconds(repeats: repeats) { _ = try a.matmul(b) }
        let bt = try b.t()  // a transposed view goes to BLAS without a copy
        let viaTransposed = try medianSeconds(repeats: repeats) { _ = try a.matmul(bt) }
        let host = try LuaHost.standard()
        host.push(object: a); host.setGlobal("A")
        host.push(object: b); host.setGlobal("B")
        try host.load("return A:matmul(B)", chunkName: "=bench")
        host.setGlobal("product")
        let viaLua = try medianSeconds(repeats: repeats) { try host.run("product()") }
        let peak = fmaPeak().map { [BenchRow(name: "the cores' FMA peak (base: the ceiling)", value: $0, unit: "GFLOP/s", baseline: ceiling)] } ?? []
        return peak + [
            BenchRow(name: "sgemm \(n)^3 direct cblas_sgemm (ceiling)", value: ceiling, unit: "GFLOP/s", baseline: ceiling),
            BenchRow(name: "sgemm \(n)^3 Tensor.matmul", value: flops / viaTensor / 1e9, unit: "GFLOP/s", baseline: ceiling),
            BenchRow(name: "sgemm \(n)^3 Tensor.matmul, B transposed view", value: flops / viaTransposed / 1e9, unit: "GFLOP/s", baseline: ceiling),
            BenchRow(name: "sgemm \(n)^3 Lua A:matmul(B)", value: flops / viaLua / 1e9, unit: "GFLOP/s", baseline: ceiling),
        ]
    }

    /// Elementwise add and softmax against plain scalar Swift loops over the same buffers.
    static func elementwise(count n: Int, repeats: Int) throws -> [BenchRow] {
        let a = try Tensor.randn([n]), b = try Tensor.randn([n]), out = try Tensor.zeros([n])
        let pa = a.data, pb = b.data, po = out.data
        let scalar = medianSeconds(repeats: repeats) { for i in 0..<n { po[i] = pa[i] + pb[i] } }
        let bytes = Double(3 * n * 4)
        let baseline = bytes / scalar / 1e9
        let add = try medianSeconds(repeats: repeats) { _ = try a.binary(.add, b) }
        let addInPlace = try medianSeconds(repeats: repeats) { try out.binaryInPlace(.add, b) }
        let rows = try Tensor.randn([n / 8192, 8192])
        let softmax = try medianSeconds(repeats: repeats) { _ = try rows.softmax(dim: 1) }
        let softmaxBaseline = medianSeconds(repeats: repeats) {
            let p = rows.data, q = out.data
            for r in 0..<(n / 8192) {
                var m = -Float.infinity
                for i in 0..<8192 { m = max(m, p[r * 8192 + i]) }
                var s: Float = 0
                for i in 0..<8192 { let e = expf(p[r * 8192 + i] - m); q[r * 8192 + i] = e; s += e }
                for i in 0..<8192 { q[r * 8192 + i] /= s }
            }
        }
        return [
            BenchRow(name: "add \(n) floats, scalar loop (baseline)", value: baseline, unit: "GB/s", baseline: baseline),
            BenchRow(name: "add \(n) floats, Tensor.binary", value: bytes / add / 1e9, unit: "GB/s", baseline: baseline),
            BenchRow(name: "add \(n) floats, in place", value: bytes / addInPlace / 1e9, unit: "GB/s", baseline: baseline),
            BenchRow(name: "softmax rows of 8192, scalar loop (baseline)", value: Double(n) / softmaxBaseline / 1e6, unit: "Melem/s", baseline: Double(n) / softmaxBaseline / 1e6),
            BenchRow(name: "softmax rows of 8192, Tensor.softmax", value: Double(n) / softmax / 1e6, unit: "Melem/s", baseline: Double(n) / softmaxBaseline / 1e6),
        ]
    }
}

import Foundation
