import Foundation

extension Tensor {
    /// Softmax along `dim` (numerically stable: the row maximum is subtracted first).
    public func softmax(dim: Int) throws -> Tensor { try softmaxFamily(dim: dim, log: false, op: "softmax") }

    /// Log-softmax along `dim`: `x - max - log(sum(exp(x - max)))`.
    public func logSoftmax(dim: Int) throws -> Tensor { try softmaxFamily(dim: dim, log: true, op: "log_softmax") }

    private func softmaxFamily(dim: Int, log: Bool, op: String) throws -> Tensor {
        let d = try Shape.normalize(dim: dim, rank: rank, op: op)
        let src = contiguous()
        let (outer, n, inner) = Shape.split(shape, at: d)
        let out = Tensor(uninitializedShape: shape)
        let p = src.data, q = out.data
        Parallel.forEachChunk(count: outer * inner, minimumChunk: Swift.max(1, Parallel.grainElements / Swift.max(n, 1))) { range in
            for r in range {
                let base = (r / inner) * n * inner + r % inner
                Tensor.softmaxRow(p + base, q + base, n, inner, log: log)
            }
        }
        return out
    }

    /// Softmax or log-softmax of one strided row of `n` values.
    @inline(__always)
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ stride: Int, log: Bool) {
        guard n > 0 else { return }
        if stride == 1 && !(x.pointee.isNaN) {
            // Contiguous rows: vectorised max, exp and sum.
            var m = VectorMath.maximum(x, n)
            if m == -.infinity { m = 0 }
            if log {
                let shift = m + Float(Foundation.log(VectorMath.expShifted(x, nil, n, shift: m)))
                for i in 0..<n { y[i] = x[i] - shift }
            } else {
                let inv = Float(1 / VectorMath.expShifted(x, y, n, shift: m))
                for i in 0..<n { y[i] *= inv }
            }
            return
        }
        var m = -Float.infinity
        for i in 0..<n { m = Swift.max(m, x[i * stride]) }
        if m == -.infinity { m = 0 }  // all -inf: avoid inf - inf
        var sum = 0.0
        for i in 0..<n {
            let e = Foundation.exp(x[i * stride] - m)
            if !log { y[i * stride] = e }
            sum += Double(e)
        }
        if log {
            let shift = m + Float(Foundation.log(sum))
            for i in 0..<n { y[i * stride] = x[i * stride] - shift }
        } else {
            let inv = Float(1 / sum)
            for i in 0..<n { y[i * stride] *= inv }
        }
    }
}
