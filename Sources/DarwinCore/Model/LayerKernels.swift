import CDarwinSupport
import Foundation

/// The building blocks of the forward pass, on row-major `[rows, features]` activations.
enum LayerKernels {
    /// `x W^T + b` for a Hugging Face `[out, in]` weight (the transposed view goes to sgemm without a copy).
    static func linear(_ x: Tensor, _ w: Tensor, _ bias: Tensor?) throws -> Tensor {
        let y = try x.matmul(w.t())
        if let bias { try y.binaryInPlace(.add, bias) }
        return y
    }

    /// `x W^T + b` for a model weight, float32 or 16-bit (converted a tile of rows at a time).
    static func linear(_ x: Tensor, _ w: Weight, _ bias: Tensor?) throws -> Tensor {
        guard w.half != nil else { return try linear(x, w.tensor, bias) }
        try checkLinearShapes(x, w)
        let xc = x.contiguous(), y = Tensor(uninitializedShape: [x.shape[0], w.shape[0]])
        try WeightProducts.timesTransposed(xc.data, rows: xc.shape[0], w, into: y.data, ldc: w.shape[0], beta: 0)
        if let bias { try y.binaryInPlace(.add, bias) }
        return y
    }

    /// `y += x W^T + b` (the residual connection after `o_proj` and `down_proj`): the product accumulates into `y`
    /// inside sgemm (beta = 1), with no separate output to zero, write and add.
    static func linear(_ x: Tensor, _ weight: Weight, _ bias: Tensor?, addingInto y: Tensor) throws {
        guard y.isContiguous, x.rank == 2, y.shape == [x.shape[0], weight.shape[0]], weight.shape[1] == x.shape[1] else {
            try y.binaryInPlace(.add, try linear(x, weight, bias))
            return
        }
        let xc = x.contiguous()
        try WeightProducts.timesTransposed(xc.data, rows: xc.shape[0], weight, into: y.data, ldc: y.shape[1], beta: 1)
        if let bias { try y.binaryInPlace(.add, bias) }
    }

    /// Checks that `x` is `[rows, in]` for an `[out, in]` weight.
    static func checkLinearShapes(_ x: Tensor, _ w: Weight) throws {
        guard x.rank == 2, x.shape[1] == w.shape[1] else {
            throw TensorError("linear: input of shape \(TensorError.show(x.shape)) does not match a weight of shape \(TensorError.show(w.shape))")
        }
    }

    /// RMSNorm: `x / sqrt(mean(x^2) + eps) * weight` per row (mean accumulated in float64).
    static func rmsNorm(_ x: Tensor, _ weight: Tensor, eps: Double) -> Tensor {
        let rows = x.shape[0], n = x.shape[1]
        let out = Tensor(uninitializedShape: x.shape)
        let p = x.data, q = out.data, w = weight.data
        Parallel.forEachChunk(count: rows, minimumChunk: max(1, 4096 / max(n, 1))) { range in
            for r in range {
                if VectorMath.useAVX512 {
                    darwin_rmsnorm_row_avx512(p + r * n, w, q + r * n, n, eps)
                } else {
                    rmsNormRow(p + r * n, w, q + r * n, n, eps: eps)
                }
            }
        }
        return out
    }

    /// RMSNorm of one row of `n` values in portable Swift.
    static func rmsNormRow(_ row: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, eps: Double) {
        let scale = Float(1 / (sumOfSquares(row, n) / Double(n) + eps).squareRoot())
        for i in 0..<n { dst[i] = w[i] * (row[i] * scale) }
    }

    /// Σ x² of `n` values in float64, in four independent sums (one running sum would wait on each addition).
    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var s = SIMD4<Double>(repeating: 0)
        var i = 0
        while i + 4 <= n {
            let v = SIMD4<Double>(Double(x[i]), Double(x[i + 1]), Double(x[i + 2]), Double(x[i + 3]))
            s += v * v
            i += 4
        }
        var total = s.sum()
        while i < n { total += Double(x[i]) * Double(x[i]); i += 1 }
        return total
    }

    /// `silu(gate) * up`, written into `gate`.
    static func swiglu(gate: Tensor, up: Tensor) {
        let g = gate.data, u = up.data
        Parallel.forEachChunk(count: gate.count, minimumChunk: 1 << 14) { range in
            if VectorMath.useAVX512 {
                darwin_swiglu_avx512(g + range.lowerBound, u + range.lowerBound, range.count)
            } else if VectorMath.useAVX2 {
                darwin_swiglu_avx2(g + range.lowerBound, u + range.lowerBound, range.count)
            } else {
                swigluPortable(g + range.lowerBound, u + range.lowerBound, range.count)
            }
        }
    }

    /// `silu(gate) * up` in a new tensor (the training path keeps gate and up for the backward pass).
    static func swigluOutput(gate: Tensor, up: Tensor) -> Tensor {
        let out = gate.clone()
        swiglu(gate: out, up: up)
        return out
    }

    /// `g[i] = silu(g[i]) * u[i]` in portable Swift SIMD.
    static func swigluPortable(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let a = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(u + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(g + i).storeBytes(of: a / (1 + VectorMath.exp(-a)) * b, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { let a = g[i]; g[i] = a / (1 + Foundation.exp(-a)) * u[i]; i += 1 }
    }

    /// Query rows per attention tile: a tile of queries only needs the keys up to its last row, so causal
    /// attention computes about half of the full score matrix, and a tile's scores stay in cache.
    static let attentionTile = 64

    /// Causal grouped-query attention. `q`: `[batch*seq, nq*hd]`, `k`/`v`: `[batch*seq, nkv*hd]` (RoPE applied);
    /// query head h attends with KV head `kvOfQuery[h]`; with a `window`, position i sees only the keys
    /// i-window+1...i (sliding-window attention). Returns `[batch*seq, nq*hd]`.
    static func causalAttention(q: Tensor, k: Tensor, v: Tensor, kvOfQuery: [Int], batch: Int, seq: Int, headDim hd: Int,
                                window: Int? = nil) -> Tensor {
        if let kernel = FusedAttentionKernel.available(headDim: hd) {
            return causalAttentionFused(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd,
                                        window: window, kernel: kernel)
        }
        return causalAttentionBLAS(q: q, k: k, v: v, kvOfQuery: kvOfQuery, batch: batch, seq: seq, headDim: hd, window: window)
    }

    /// The first key position `row` (0-based) sees under `window`.
    @inline(__always)
    static func firstKey(_ row: Int, window: Int?) -> Int { window.map { max(0, row + 1 - $0) } ?? 0 }

    /// `causalAttention` on sgemm (any CPU, any head size): the query heads that share a KV head are handled
    /// together, their rows of a tile packed into one matrix.
    static func causalAttentionBLAS(q: Tensor, k: Tensor, v: Tensor, kvOfQuery: [Int], batch: Int, seq: Int, headDim hd: Int,
                                    window: Int? = nil) -> Tensor {
        let nq = kvOfQuery.count, nkv = k.shape[1] / hd
        let out = Tensor(uninitializedShape: [batch * seq, nq * hd])
        let scale = Float(1 / Double(hd).squareRoot())
        let tile = min(attentionTile, seq)
        let groups = (0..<nkv).map { g in kvOfQuery.indices.filter { kvOfQuery[$0] == g } }
        let widest = groups.map(\.count).max() ?? 0
        guard widest > 0 else { return out }
        Parallel.forEachChunk(count: batch * nkv, minimumChunk: 1) { range in
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: 2 * tile * widest * hd)
            let context = packed + tile * widest * hd
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: tile * widest * seq)
            defer { packed.deallocate(); scores.deallocate() }
            for pair in range {
                let b = pair / nkv, g = pair % nkv, heads = groups[g], hpg = heads.count
                guard hpg > 0 else { continue }
                let rowStride = nq * hd, qBase = q.data + b * seq * rowStride, outBase = out.data + b * seq * rowStride
                let kh = GemmOperand(pointer: k.data + b * seq * nkv * hd + g * hd, transposed: true, leadingDimension: nkv * hd)
                let vh = GemmOperand(pointer: v.data + b * seq * nkv * hd + g * hd, transposed: false, leadingDimension: nkv * hd)
                forEachCausalTile(seq: seq, tile: tile) { first, rows, keys in
                    // Packed row r * hpg + j is query row first + r of head heads[j].
                    for r in 0..<rows {
                        let src = qBase + (first + r) * rowStride
                        for (j, h) in heads.enumerated() { (packed + (r * hpg + j) * hd).update(from: src + h * hd, count: hd) }
                    }
                    sgemm(GemmOperand(pointer: packed, transposed: false, leadingDimension: hd), kh, scores,
                          m: rows * hpg, n: keys, k: hd, ldc: keys, alpha: scale)
                    for row in 0..<(rows * hpg) {
                        Tensor.causalSoftmaxRow(scores + row * keys, length: first + row / hpg + 1, total: keys,
                                                from: firstKey(first + row / hpg, window: window))
                    }
                    sgemm(GemmOperand(pointer: scores, transposed: false, leadingDimension: keys), vh, context,
                          m: rows * hpg, n: hd, k: keys, ldc: hd)
                    for r in 0..<rows {
                        let dst = outBase + (first + r) * rowStride
                        for (j, h) in heads.enumerated() { (dst + h * hd).update(from: context + (r * hpg + j) * hd, count: hd) }
                    }
                }
            }
        }
        return out
    }

    /// Calls `body(firstRow, rows, keys)` for consecutive tiles of query rows; `keys` = the keys the tile sees.
    @inline(__always)
    static func forEachCausalTile(seq: Int, tile: Int, _ body: (Int, Int, Int) -> Void) {
        var first = 0
        while first < seq {
            let rows = min(tile, seq - first)
            body(first, rows, first + rows)
            first += rows
        }
    }
}

extension Tensor {
    /// Softmax over the entries `from..<length` of a row of `total`, zeroing the rest (the causal mask, and the keys
    /// before a sliding window).
    @inline(__always)
    static func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, length: Int, total: Int, from first: Int = 0) {
        softmaxRow(UnsafePointer(row + first), row + first, length - first, 1, log: false)
        if first > 0 { row.update(repeating: 0, count: first) }
        if length < total { (row + length).update(repeating: 0, count: total - length) }
    }
}
