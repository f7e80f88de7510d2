import CDarwinSupport

/// The fused causal attention kernels of `CDarwinSupport`, by vector width: per query head, a block of query rows
/// computes its scores against exactly the keys it sees, the softmax and the context while the scores are still in
/// cache. Each wants the head's keys in its own layout (`arrangeKeys`).
enum FusedAttentionKernel {
    /// 256-bit: blocks of 6 query rows, keys transposed (`darwin_causal_attention_head_avx2`); head size a multiple of 8.
    case avx2
    /// 512-bit: blocks of 12 query rows, keys transposed in tiles of 32 positions
    /// (`darwin_causal_attention_head_avx512`); head size a multiple of 16.
    case avx512

    /// Keys per tile and query rows per block of the AVX-512 kernel.
    private static let keyTile = Int(DARWIN_ATTENTION_AVX512_KEY_TILE), blockRows = Int(DARWIN_ATTENTION_AVX512_ROWS)

    /// The widest kernel this CPU runs for head size `hd`; nil where none does (the sgemm path runs then).
    static func available(headDim hd: Int) -> FusedAttentionKernel? {
        if VectorMath.useAVX512 && hd % 16 == 0 { return .avx512 }
        if VectorMath.useAVX2 && hd % 8 == 0 { return .avx2 }
        return nil
    }

    /// Floats of one head's keys in this kernel's layout, and of its scratch rows, for `seq` positions.
    func buffers(seq: Int, headDim hd: Int) -> (keys: Int, scratch: Int) {
        switch self {
        case .avx2: return (hd * avx2KeyStride(seq: seq), 6 * avx2KeyStride(seq: seq))
        case .avx512:
            return (hd * tiles(seq: seq) * Self.keyTile, Self.blockRows * avx512ScratchStride(seq: seq))
        }
    }

    /// Rows of the AVX2 kernel's transposed keys are an odd number of 64-byte lines apart: at a power-of-two
    /// distance the 16-key column its scores read would fall into a few L1 cache sets (about 4% of the kernel).
    private func avx2KeyStride(seq: Int) -> Int { (((seq + 15) / 16) | 1) * 16 }
    private func tiles(seq: Int) -> Int { (seq + Self.keyTile - 1) / Self.keyTile }
    /// The AVX-512 kernel's score rows: the padded key count and one 64-byte line more, so that its 12 rows do not
    /// fall into the same L1 cache sets at power-of-two lengths.
    private func avx512ScratchStride(seq: Int) -> Int { tiles(seq: seq) * Self.keyTile + 16 }

    /// Copies one head's keys (`seq` rows `rowStride` apart, `hd` values each) into `keys` in this kernel's layout;
    /// the padding past `seq` stays as it was (zero).
    func arrangeKeys(_ src: UnsafePointer<Float>, rowStride: Int, seq: Int, headDim hd: Int, into keys: UnsafeMutablePointer<Float>) {
        switch self {
        case .avx2:
            let ldk = avx2KeyStride(seq: seq)
            for t in 0..<seq { for d in 0..<hd { keys[d * ldk + t] = src[t * rowStride + d] } }
        case .avx512:
            let width = Self.keyTile
            for t in 0..<seq {
                let tile = keys + (t / width) * hd * width + t % width
                for d in 0..<hd { tile[d * width] = src[t * rowStride + d] }
            }
        }
    }

    /// Runs the kernel on one query head (arguments as in `darwin_causal_attention_head_avx2`/`_avx512`).
    func head(q: UnsafePointer<Float>, ldq: Int, keys: UnsafePointer<Float>, v: UnsafePointer<Float>, ldv: Int,
              out: UnsafeMutablePointer<Float>, ldo: Int, seq: Int, headDim hd: Int, scale: Float,
              scratch: UnsafeMutablePointer<Float>, window: Int) {
        switch self {
        case .avx2:
            darwin_causal_attention_head_avx2(q, ldq, keys, avx2KeyStride(seq: seq), v, ldv, out, ldo, seq, hd, scale, scratch, window)
        case .avx512:
            darwin_causal_attention_head_avx512(q, ldq, keys, v, ldv, out, ldo, seq, hd, scale, scratch,
                                                avx512ScratchStride(seq: seq), window)
        }
    }
}

extension LayerKernels {
    /// `causalAttention` with a fused kernel (which the CPU must run: see `FusedAttentionKernel.available`).
    static func causalAttentionFused(q: Tensor, k: Tensor, v: Tensor, kvOfQuery: [Int], batch: Int, seq: Int, headDim hd: Int,
                                     window: Int? = nil, kernel: FusedAttentionKernel) -> Tensor {
        let nq = kvOfQuery.count, nkv = k.shape[1] / hd
        let out = Tensor(uninitializedShape: [batch * seq, nq * hd])
        let scale = Float(1 / Double(hd).squareRoot())
        let sizes = kernel.buffers(seq: seq, headDim: hd)
        // Chunks of one KV head's worth of query heads (their keys are arranged once), handed out dynamically.
        Parallel.forEachDynamicChunk(count: batch * nq, chunk: max(1, nq / max(nkv, 1))) { range in
            let memory = UnsafeMutableRawPointer.allocate(byteCount: (sizes.keys + sizes.scratch) * MemoryLayout<Float>.stride, alignment: 64)
            defer { memory.deallocate() }
            let keys = memory.initializeMemory(as: Float.self, repeating: 0, count: sizes.keys + sizes.scratch)
            let scratch = keys + sizes.keys
            var arranged = (-1, -1)
            for pair in range {
                let b = pair / nq, h = pair % nq, g = kvOfQuery[h]
                let kvBase = b * seq * nkv * hd + g * hd
                if arranged != (b, g) {  // heads of one KV head are consecutive: arrange its keys once
                    kernel.arrangeKeys(k.data + kvBase, rowStride: nkv * hd, seq: seq, headDim: hd, into: keys)
                    arranged = (b, g)
                }
                let qOff = b * seq * nq * hd + h * hd
                kernel.head(q: q.data + qOff, ldq: nq * hd, keys: keys, v: v.data + kvBase, ldv: nkv * hd, out: out.data + qOff,
                            ldo: nq * hd, seq: seq, headDim: hd, scale: scale, scratch: scratch, window: window ?? 0)
            }
        }
        return out
    }
}
