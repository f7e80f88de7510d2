import Dispatch

/// Timing of the causal attention kernels for `darwin-bench`: the widest fused kernel this CPU runs (and, on an
/// AVX-512 CPU, the AVX2 one too) against the sgemm path on the same random inputs (minimum over alternating runs,
/// which this machine's drifting speed needs).
public enum AttentionBenchmark {
    /// Seconds per call of each kernel, the fused ones by name ("avx512", "avx2"); none on CPUs without AVX2 and FMA
    /// or head sizes not a multiple of 8.
    public static func time(batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim hd: Int,
                            rounds: Int) throws -> (fused: [(name: String, seconds: Double)], sgemm: Double) {
        let q = try Tensor.randn([batch * seq, heads * hd]), k = try Tensor.randn([batch * seq, kvHeads * hd])
        let v = try Tensor.randn([batch * seq, kvHeads * hd])
        let kvOfQuery = (0..<heads).map { $0 * kvHeads / heads }
        var kernels: [FusedAttentionKernel] = []
        if let widest = FusedAttentionKernel.available(headDim: hd) { kernels = widest == .avx512 ? [.avx512, .avx2] : [.avx2] }
        func seconds(_ body: () -> Void) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var fused = [Double](repeating: .infinity, count: kernels.count), blas = Double.infinity
        for _ in 0...rounds {
            blas = min(blas, seconds { _ = LayerKernels.causalAttentionBLAS(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd) })
            for (i, kernel) in kernels.enumerated() {
                fused[i] = min(fused[i], seconds {
                    _ = LayerKernels.causalAttentionFused(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd, kernel: kernel)
                })
            }
        }
        return (zip(kernels, fused).map { ("\($0.0)", $0.1) }, blas)
    }
}
