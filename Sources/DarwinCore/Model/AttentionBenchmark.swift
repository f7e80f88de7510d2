import Dispatch

/// Timing of the causal attention kernels for `darwin-bench`: the fused AVX2 kernel against the sgemm path on
/// the same random inputs (minimum over alternating runs, which this machine's drifting speed needs).
public enum AttentionBenchmark {
    /// Seconds per call of each kernel; `fused` is nil on CPUs without AVX2 and FMA or head sizes not a multiple of 8.
    public static func time(batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim hd: Int,
                            rounds: Int) throws -> (fused: Double?, sgemm: Double) {
        let q = try Tensor.randn([batch * seq, heads * hd]), k = try Tensor.randn([batch * seq, kvHeads * hd])
        let v = try Tensor.randn([batch * seq, kvHeads * hd])
        let kvOfQuery = (0..<heads).map { $0 * kvHeads / heads }
        let hasFused = VectorMath.useAVX2 && hd % 8 == 0
        func seconds(_ body: () -> Void) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var fused = Double.infinity, blas = Double.infinity
        for _ in 0...rounds {
            blas = min(blas, seconds { _ = LayerKernels.causalAttentionBLAS(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd) })
            if hasFused {
                fused = min(fused, seconds { _ = LayerKernels.causalAttentionAVX2(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd) })
            }
        }
        return (hasFused ? fused : nil, blas)
    }
}
