import CDarwinSupport
import COpenBLAS
import Foundation

/// Backward passes of the forward building blocks.
enum BackwardKernels {
    /// For `y = x Wᵀ + b` with `W [out, in]`: accumulates dW = dyᵀ x and db = Σ dy where `grads` wants them, and
    /// returns dx = dy W, or adds dy W into `sum` (a contiguous `[rows, in]` gradient of a shared input) in the same
    /// product and returns it. A 16-bit `W` (not trained) is converted a tile at a time.
    static func linear(_ x: Tensor, _ w: Weight, _ bias: Tensor?, dy: Tensor, grads: Gradients, addingInto sum: Tensor? = nil) throws -> Tensor {
        if grads.wants(w) { try grads.accumulateProduct(w.tensor, dy: dy, x: x) }
        if let bias, grads.wants(bias) { try grads.accumulate(bias, try dy.reduce(.sum, dim: 0)) }
        let rows = dy.shape[0], inputs = w.shape[1]
        let dyc = dy.contiguous()
        if let sum, sum.isContiguous, sum.shape == [rows, inputs] {
            try WeightProducts.times(dyc.data, rows: rows, lda: dyc.shape[1], w, into: sum.data, beta: 1)
            return sum
        }
        let dx = Tensor(uninitializedShape: [rows, inputs])
        try WeightProducts.times(dyc.data, rows: rows, lda: dyc.shape[1], w, into: dx.data, beta: 0)
        if let sum { try sum.binaryInPlace(.add, dx); return sum }
        return dx
    }

    /// For `y = w ⊙ x · r` (RMSNorm, r = 1/sqrt(mean(x²) + eps)): accumulates dw, returns dx, or adds dx into `sum`
    /// (the gradient the residual connection already carries, contiguous and of `x`'s shape) and returns `sum`: no
    /// separate dx to write and add. Rows in parallel, each worker summing its own part of dw (float64) before they are
    /// added up.
    static func rmsNorm(_ x: Tensor, _ weight: Tensor, eps: Double, dy: Tensor, grads: Gradients, addingInto sum: Tensor? = nil) throws -> Tensor {
        let rows = x.shape[0], n = x.shape[1]
        let accumulate = sum.map { $0.isContiguous && $0.shape == x.shape } ?? false
        let dx = accumulate ? sum! : Tensor(uninitializedShape: x.shape)
        let workers = max(1, min(Parallel.threads, rows / 64))
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: workers * n)
        partial.initialize(repeating: 0, count: workers * n)
        defer { partial.deallocate() }
        let xc = x.contiguous(), dyc = dy.contiguous()
        let px = xc.data, pdy = dyc.data, pdx = dx.data, w = weight.data
        let chunk = (rows + workers - 1) / workers
        Parallel.forEachChunk(count: workers, minimumChunk: 1) { range in
            for worker in range {
                for r in (worker * chunk)..<min(rows, (worker + 1) * chunk) {
                    rmsNormRow(px + r * n, w, dy: pdy + r * n, dx: pdx + r * n, dw: partial + worker * n, n, eps: eps, accumulate: accumulate)
                }
            }
        }
        var dw = [Float](repeating: 0, count: n)
        for i in 0..<n { var t = 0.0; for worker in 0..<workers { t += partial[worker * n + i] }; dw[i] = Float(t) }
        try grads.accumulate(weight, try Tensor(dw, shape: [n]))
        if let sum, !accumulate { try sum.binaryInPlace(.add, dx); return sum }
        return dx
    }

    /// RMSNorm's backward pass for one row: writes (or with `accumulate` adds) dx, adds into the float64 `dw`.
    @inline(__always)
    static func rmsNormRow(_ row: UnsafeMutablePointer<Float>, _ w: UnsafeMutablePointer<Float>, dy g: UnsafeMutablePointer<Float>,
                           dx out: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Double>, _ n: Int, eps: Double, accumulate: Bool) {
        if VectorMath.useAVX512 {
            darwin_rmsnorm_backward_row_avx512(row, w, g, out, dw, n, eps, accumulate ? 1 : 0)
        } else {
            rmsNormRowPortable(row, w, dy: g, dx: out, dw: dw, n, eps: eps, accumulate: accumulate)
        }
    }

    /// `rmsNormRow` in portable Swift (float64 throughout, rounded once per element).
    static func rmsNormRowPortable(_ row: UnsafeMutablePointer<Float>, _ w: UnsafeMutablePointer<Float>, dy g: UnsafeMutablePointer<Float>,
                                   dx out: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Double>, _ n: Int, eps: Double, accumulate: Bool) {
        var dot = 0.0
        let rstd = 1 / (LayerKernels.sumOfSquares(row, n) / Double(n) + eps).squareRoot()
        for i in 0..<n { dot += Double(w[i]) * Double(g[i]) * Double(row[i]); dw[i] += Double(g[i]) * Double(row[i]) * rstd }
        let c = rstd * rstd * rstd * dot / Double(n)
        for i in 0..<n {
            let d = Float(rstd * Double(w[i]) * Double(g[i]) - Double(row[i]) * c)
            out[i] = accumulate ? out[i] + d : d
        }
    }

    /// For `a = silu(g) ⊙ u`: returns (dg, du), sixteen lanes at a time with AVX-512, else eight, written into
    /// `outputs` when given (contiguous tensors of gate's shape; `da` itself may be one of them: each element is read
    /// before it is written).
    static func swiglu(gate: Tensor, up: Tensor, da: Tensor, into outputs: (Tensor, Tensor)? = nil) -> (Tensor, Tensor) {
        let (dg, du) = outputs ?? (Tensor(uninitializedShape: gate.shape), Tensor(uninitializedShape: up.shape))
        let g = gate.data, u = up.data, d = da.data, pg = dg.data, pu = du.data
        Parallel.forEachChunk(count: gate.count, minimumChunk: 1 << 14) { range in
            let start = range.lowerBound
            if VectorMath.useAVX512 {
                darwin_swiglu_backward_avx512(g + start, u + start, d + start, pg + start, pu + start, range.count)
            } else {
                swigluPortable(gate: g + start, up: u + start, da: d + start, dGate: pg + start, dUp: pu + start, range.count)
            }
        }
        return (dg, du)
    }

    /// `swiglu`'s backward pass on `n` values in portable Swift, eight lanes at a time.
    static func swigluPortable(gate g: UnsafeMutablePointer<Float>, up u: UnsafeMutablePointer<Float>, da d: UnsafeMutablePointer<Float>,
                               dGate pg: UnsafeMutablePointer<Float>, dUp pu: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) }
        while i + 8 <= n {
            let gv = load(g), uv = load(u), dv = load(d)
            let s = 1 / (1 + VectorMath.exp(-gv))
            UnsafeMutableRawPointer(pu + i).storeBytes(of: dv * gv * s, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(pg + i).storeBytes(of: dv * uv * s * (1 + gv * (1 - s)), as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let s = 1 / (1 + Foundation.exp(-g[i]))
            pu[i] = d[i] * g[i] * s
            pg[i] = d[i] * u[i] * s * (1 + g[i] * (1 - s))
            i += 1
        }
    }

    /// Causal GQA attention backward (within a sliding `window` when given). Recomputes the probabilities from `q`, `k` (RoPE applied), returns
    /// (dq, dk, dv) for `dContext`. Work is split by (batch, KV head) so each worker owns its dk/dv slices.
    static func causalAttention(q: Tensor, k: Tensor, v: Tensor, kvOfQuery: [Int], batch: Int, seq: Int, headDim hd: Int,
                                window: Int? = nil, dContext: Tensor) -> (Tensor, Tensor, Tensor) {
        let nq = kvOfQuery.count, nkv = k.shape[1] / hd
        let dq = Tensor(shape: q.shape, repeating: 0), dk = Tensor(shape: k.shape, repeating: 0), dv = Tensor(shape: v.shape, repeating: 0)
        let scale = Float(1 / Double(hd).squareRoot())
        let pairs = batch * nkv, tile = min(LayerKernels.attentionTile, seq)
        // One (sequence, KV head) pair at a time to whichever worker is free: a fixed half each left one worker waiting
        // for the other on this shared machine.
        Parallel.forEachDynamicChunk(count: pairs, chunk: 1) { range in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: 2 * tile * seq)
            defer { p.deallocate() }
            let dp = p + tile * seq
            for pair in range {
                let b = pair / nkv, g = pair % nkv, kvOff = b * seq * nkv * hd + g * hd
                let kh = GemmOperand(pointer: k.data + kvOff, transposed: false, leadingDimension: nkv * hd)
                let khT = GemmOperand(pointer: k.data + kvOff, transposed: true, leadingDimension: nkv * hd)
                let vhT = GemmOperand(pointer: v.data + kvOff, transposed: true, leadingDimension: nkv * hd)
                for h in 0..<nq where kvOfQuery[h] == g {
                    let qOff = b * seq * nq * hd + h * hd
                    // Per tile of query rows (only the keys up to the tile's last row):
                    LayerKernels.forEachCausalTile(seq: seq, tile: tile) { first, rows, keys in
                        let rowOff = qOff + first * nq * hd
                        let qt = GemmOperand(pointer: q.data + rowOff, transposed: false, leadingDimension: nq * hd)
                        let dctx = GemmOperand(pointer: dContext.data + rowOff, transposed: false, leadingDimension: nq * hd)
                        // P = softmax(scale q kᵀ) with the causal mask; dP = dctx vᵀ; dv += Pᵀ dctx.
                        sgemm(qt, khT, p, m: rows, n: keys, k: hd, ldc: keys, alpha: scale)
                        for r in 0..<rows {
                            Tensor.causalSoftmaxRow(p + r * keys, length: first + r + 1, total: keys,
                                                    from: LayerKernels.firstKey(first + r, window: window))
                        }
                        sgemm(dctx, vhT, dp, m: rows, n: keys, k: hd, ldc: keys)
                        sgemm(GemmOperand(pointer: p, transposed: true, leadingDimension: keys), dctx,
                              dv.data + kvOff, m: keys, n: hd, k: rows, ldc: nkv * hd, beta: 1)
                        // dS = P ⊙ (dP - rowsum(dP ⊙ P)), zero beyond the causal limit.
                        for r in 0..<rows {
                            let pr = p + r * keys, dr = dp + r * keys, length = first + r + 1
                            let s = cblas_sdot(Int32(length), pr, 1, dr, 1)  // vectorised: a running float sum is not
                            for j in 0..<length { dr[j] = pr[j] * (dr[j] - s) }
                            if length < keys { (dr + length).update(repeating: 0, count: keys - length) }
                        }
                        // dq = scale dS k ; dk += scale dSᵀ q
                        sgemm(GemmOperand(pointer: dp, transposed: false, leadingDimension: keys), kh, dq.data + rowOff,
                              m: rows, n: hd, k: keys, ldc: nq * hd, alpha: scale)
                        sgemm(GemmOperand(pointer: dp, transposed: true, leadingDimension: keys), qt,
                              dk.data + kvOff, m: keys, n: hd, k: rows, ldc: nkv * hd, alpha: scale, beta: 1)
                    }
                }
            }
        }
        return (dq, dk, dv)
    }
}
