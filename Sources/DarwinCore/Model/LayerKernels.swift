import Foundation

/// The building blocks of the forward pass, on row-major `[rows, features]` activations.
enum LayerKernels {
    /// `x W^T + b` for a Hugging Face `[out, in]` weight (the transposed view goes to sgemm without a copy).
    static func linear(_ x: Tensor, _ w: Tensor, _ bias: Tensor?) throws -> Tensor {
        let y = try x.matmul(w.t())
        if let bias { try y.binaryInPlace(.add, bias) }
        return y
    }

    /// RMSNorm: `x / sqrt(mean(x^2) + eps) * weight` per row (mean accumulated in float64).
    static func rmsNorm(_ x: Tensor, _ weight: Tensor, eps: Double) -> Tensor {
        let rows = x.shape[0], n = x.shape[1]
        let out = Tensor(uninitializedShape: x.shape)
        let p = x.data, q = out.data, w = weight.data
        Parallel.forEachChunk(count: rows, minimumChunk: max(1, 4096 / max(n, 1))) { range in
            for r in range {
                let row = p + r * n, dst = q + r * n
                var ss = 0.0
                for i in 0..<n { let v = Double(row[i]); ss += v * v }
                let scale = Float(1 / (ss / Double(n) + eps).squareRoot())
                for i in 0..<n { dst[i] = w[i] * (row[i] * scale) }
            }
        }
        return out
    }

    /// `silu(gate) * up`, written into `gate`.
    static func swiglu(gate: Tensor, up: Tensor) {
        let g = gate.data, u = up.data
        Parallel.forEachChunk(count: gate.count, minimumChunk: 1 << 14) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let a = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                let b = UnsafeRawPointer(u + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(g + i).storeBytes(of: a / (1 + VectorMath.exp(-a)) * b, as: SIMD8<Float>.self)
                i += 8
            }
            while i < range.upperBound { let a = g[i]; g[i] = a / (1 + Foundation.exp(-a)) * u[i]; i += 1 }
        }
    }

    /// Query rows per attention tile: a tile of queries only needs the keys up to its last row, so causal
    /// attention computes about half of the full score matrix, and a tile's scores stay in cache.
    static let attentionTile = 64

    /// Causal grouped-query attention. `q`: `[batch*seq, nq*hd]`, `k`/`v`: `[batch*seq, nkv*hd]` (RoPE applied);
    /// query head h attends with KV head `kvOfQuery[h]`. Returns `[batch*seq, nq*hd]`.
    static func causalAttention(q: Tensor, k: Tensor, v: Tensor, kvOfQuery: [Int], batch: Int, seq: Int, headDim hd: Int) -> Tensor {
        let nq = kvOfQuery.count, nkv = k.shape[1] / hd
        let out = Tensor(uninitializedShape: [batch * seq, nq * hd])
        let scale = Float(1 / Double(hd).squareRoot())
        let pairs = batch * nq, tile = min(attentionTile, seq)
        Parallel.forEachChunk(count: pairs, minimumChunk: 1) { range in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: tile * seq)
            defer { scores.deallocate() }
            for pair in range {
                let b = pair / nq, h = pair % nq, g = kvOfQuery[h]
                let qBase = q.data + b * seq * nq * hd + h * hd, outBase = out.data + b * seq * nq * hd + h * hd
                let kh = GemmOperand(pointer: k.data + b * seq * nkv * hd + g * hd, transposed: true, leadingDimension: nkv * hd)
                let vh = GemmOperand(pointer: v.data + b * seq * nkv * hd + g * hd, transposed: false, leadingDimension: nkv * hd)
                forEachCausalTile(seq: seq, tile: tile) { first, rows, keys in
                    sgemm(GemmOperand(pointer: qBase + first * nq * hd, transposed: false, leadingDimension: nq * hd), kh, scores,
                          m: rows, n: keys, k: hd, ldc: keys, alpha: scale)
                    for r in 0..<rows { Tensor.causalSoftmaxRow(scores + r * keys, length: first + r + 1, total: keys) }
                    sgemm(GemmOperand(pointer: scores, transposed: false, leadingDimension: keys), vh, outBase + first * nq * hd,
                          m: rows, n: hd, k: keys, ldc: nq * hd)
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
    /// Softmax over the first `length` entries of a row of `total`, zeroing the rest (the causal mask).
    @inline(__always)
    static func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, length: Int, total: Int) {
        softmaxRow(UnsafePointer(row), row, length, 1, log: false)
        if length < total { (row + length).update(repeating: 0, count: total - length) }
    }
}
