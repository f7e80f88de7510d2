import CDarwinSupport
import COpenBLAS
import Glibc

/// Matrix products with a model weight `W [out, in]`, float32 or 16-bit: the forward `A Wᵀ` and the backward
/// `A W`. A 16-bit weight is converted to float32 a tile of rows at a time; the conversion is exact, so the results
/// equal those of the float32 weight.
enum WeightProducts {
    /// The fewest float32 elements of one converted tile of a 16-bit weight (32 MiB: large enough for sgemm to run at
    /// speed, small next to the weight).
    static let tileElements = 8 << 20
    /// The most float32 elements of one converted tile (64 MiB).
    static let largestTileElements = 16 << 20

    /// Rows of a converted tile of a 16-bit weight with `n` columns, in a product with `m` rows of `A`.
    /// sgemm packs `A` again for every tile, so a tile gets at least 8 times as many rows as `A` (up to
    /// `largestTileElements`): at Llama-3.2-1B shape, 1024 rows per worker, a KL pass took 3–4% less time with the
    /// MLP's 64 MiB weights in one tile than in two. Products with few rows (the LM head's chunks in a memory-lean
    /// training step) keep 32 MiB tiles.
    static func tileRows(columns n: Int, productRows m: Int) -> Int {
        let elements = min(largestTileElements, max(tileElements, 8 * m * n))
        return max(64, elements / max(n, 1))
    }

    /// `C = A Wᵀ + beta C`: `A` is `m × in` (row-major, leading dimension `in`), `C` is `m × out` with leading
    /// dimension `ldc`.
    static func timesTransposed(_ a: UnsafeMutablePointer<Float>, rows m: Int, _ w: Weight, into c: UnsafeMutablePointer<Float>,
                                ldc: Int, beta: Float, tileRows: Int? = nil) throws {
        if let half = w.half, m <= fewRows {
            fewRowsTimesTransposed(a, rows: m, half, into: c, ldc: ldc, beta: beta)
            return
        }
        try product(a, rows: m, lda: w.shape[1], w, transposed: true, into: c, ldc: ldc, beta: beta, tileRows: tileRows)
    }

    /// `C = A W + beta C`: `A` is `m × out` with leading dimension `lda`, `C` is `m × in` (leading dimension `in`).
    /// The backward pass of `A Wᵀ` with respect to `A`.
    static func times(_ a: UnsafeMutablePointer<Float>, rows m: Int, lda: Int, _ w: Weight, into c: UnsafeMutablePointer<Float>,
                      beta: Float, tileRows: Int? = nil) throws {
        try product(a, rows: m, lda: lda, w, transposed: false, into: c, ldc: w.shape[1], beta: beta, tileRows: tileRows)
    }

    /// `A Wᵀ` or `A W`, over row tiles of `W`: a tile of rows `start..<start+rows` gives the columns `start...` of
    /// `A Wᵀ`, or the part of `A W` that `A`'s columns `start...` contribute (later tiles accumulate).
    private static func product(_ a: UnsafeMutablePointer<Float>, rows m: Int, lda: Int, _ w: Weight, transposed: Bool,
                                into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, tileRows: Int?) throws {
        let n = w.shape[1]
        func multiply(_ tile: UnsafeMutablePointer<Float>, _ start: Int, _ rows: Int) {
            let weightRows = GemmOperand(pointer: tile, transposed: transposed, leadingDimension: n)
            if transposed {
                sgemm(GemmOperand(pointer: a, transposed: false, leadingDimension: lda), weightRows, c + start, m: m, n: rows, k: n, ldc: ldc, beta: beta)
            } else {
                sgemm(GemmOperand(pointer: a + start, transposed: false, leadingDimension: lda), weightRows, c, m: m, n: n, k: rows, ldc: ldc,
                      beta: start == 0 ? beta : 1)
            }
        }
        guard let half = w.half else {
            let wc = w.tensor.contiguous()
            multiply(wc.data, 0, w.shape[0])
            return
        }
        try forEachTile(half, tileRows: tileRows ?? WeightProducts.tileRows(columns: half.columns, productRows: m), multiply)
    }

    /// Up to this many rows of `A` (decoding one token at a time) a 16-bit product reads each weight row once,
    /// converting it into a small buffer next to the dot products, instead of converting whole tiles for sgemm.
    static let fewRows = 4

    /// `C = A Wᵀ + beta C` for a few rows of `A`: memory-bound, so each 16-bit weight row is read once.
    private static func fewRowsTimesTransposed(_ a: UnsafeMutablePointer<Float>, rows m: Int, _ w: HalfMatrix,
                                               into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
        let n = w.columns
        Parallel.forEachChunk(count: w.rows, minimumChunk: max(1, Parallel.grainElements / max(n, 1))) { range in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            defer { row.deallocate() }
            for r in range {
                if w.format == .bf16 && m == 1 {
                    let dot = VectorMath.useAVX2 ? darwin_bf16_dot_avx2(w.bits + r * n, a, n) : bf16Dot(w.bits + r * n, a, n)
                    c[r] = beta == 0 ? dot : beta * c[r] + dot
                    continue
                }
                w.convertRows(r..<(r + 1), into: row, parallel: false)
                for i in 0..<m {
                    let dot = cblas_sdot(Int32(n), a + i * n, 1, row, 1)
                    c[i * ldc + r] = beta == 0 ? dot : beta * c[i * ldc + r] + dot
                }
            }
        }
    }

    /// Σ w[i]·x[i] of a bfloat16 row and a float32 vector, converting in registers (two independent sums).
    @inline(__always)
    static func bf16Dot(_ w: UnsafePointer<UInt16>, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = SIMD8<Float>(repeating: 0), s1 = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 16 <= n {
            let w0 = SIMD8<UInt32>(truncatingIfNeeded: UnsafeRawPointer(w + i).loadUnaligned(as: SIMD8<UInt16>.self)) &<< 16
            let w1 = SIMD8<UInt32>(truncatingIfNeeded: UnsafeRawPointer(w + i + 8).loadUnaligned(as: SIMD8<UInt16>.self)) &<< 16
            s0 += unsafeBitCast(w0, to: SIMD8<Float>.self) * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            s1 += unsafeBitCast(w1, to: SIMD8<Float>.self) * UnsafeRawPointer(x + i + 8).loadUnaligned(as: SIMD8<Float>.self)
            i += 16
        }
        var total = (s0 + s1).sum()
        while i < n { total += Float(bitPattern: UInt32(w[i]) << 16) * x[i]; i += 1 }
        return total
    }

    /// Converts `w` to float32 a tile of rows at a time and hands each tile to `body` with its first row and row count.
    private static func forEachTile(_ w: HalfMatrix, tileRows requested: Int,
                                    _ body: (UnsafeMutablePointer<Float>, Int, Int) -> Void) throws {
        let n = w.columns, tileRows = max(1, min(w.rows, requested))
        // Through the tensors' block cache, sized as a tensor's block of as many floats (so that tiles and tensors of
        // one size reuse each other's blocks): 32 MiB is glibc's mmap threshold here, and a fresh mapping per product
        // was faulted in and cleared again every time (a KL pass at Llama-3.2-1B shape took 4% less time without).
        let bytes = TensorStorage.blockBytes(count: tileRows * n)
        guard let block = TensorStorage.allocateBlock(bytes: bytes) else {
            throw TensorError("not enough memory for a [\(tileRows), \(n)] float32 tile of a 16-bit weight")
        }
        defer { TensorStorage.releaseBlock(block, bytes: bytes) }
        let tile = block.bindMemory(to: Float.self, capacity: max(tileRows * n, 1))
        for start in stride(from: 0, to: w.rows, by: tileRows) {
            let rows = min(tileRows, w.rows - start)
            w.convertRows(start..<(start + rows), into: tile)
            body(tile, start, rows)
        }
    }
}
