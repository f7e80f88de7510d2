/// Reductions along one dimension or over all elements. Sums and norms accumulate in float64.
public enum ReduceOp: String {
    case sum, mean, max, min, argmax, argmin
}

extension Tensor {
    /// Reduces dimension `dim` with `op`; keeps it as size 1 when `keepdim`.
    /// `argmax`/`argmin` return 0-based indices stored as floats.
    public func reduce(_ op: ReduceOp, dim: Int, keepdim: Bool = false) throws -> Tensor {
        try reduceRows(dim: dim, keepdim: keepdim, op: op.rawValue, allowEmpty: op == .sum || op == .mean) {
            Tensor.reduceStrided(op, $0, $1, $2)
        }
    }

    /// Applies `body(start, count, stride)` to every line of values along `dim`, producing one value per line.
    private func reduceRows(dim: Int, keepdim: Bool, op: String, allowEmpty: Bool,
                            _ body: (UnsafePointer<Float>, Int, Int) -> Float) throws -> Tensor {
        let d = try Shape.normalize(dim: dim, rank: rank, op: op)
        guard shape[d] > 0 || allowEmpty else { throw TensorError("\(op): cannot reduce an empty dimension \(d + 1)") }
        let src = contiguous()
        let (_, n, inner) = Shape.split(shape, at: d)
        var outShape = shape
        if keepdim { outShape[d] = 1 } else { outShape.remove(at: d) }
        let out = Tensor(uninitializedShape: outShape)
        let p = src.data, q = out.data
        Parallel.forEachChunk(count: out.count, minimumChunk: max(1, Parallel.grainElements / max(n, 1))) { range in
            for r in range { q[r] = body(p + (r / inner) * n * inner + r % inner, n, inner) }
        }
        return out
    }

    /// One strided reduction of `n` values spaced `stride` apart.
    @inline(__always)
    static func reduceStrided(_ op: ReduceOp, _ p: UnsafePointer<Float>, _ n: Int, _ stride: Int) -> Float {
        switch op {
        case .sum, .mean:
            let s = sumStrided(p, n, stride)
            return Float(op == .mean ? s / Double(n) : s)
        case .max, .min, .argmax, .argmin:
            let wantMax = op == .max || op == .argmax
            var best = p[0], at = 0
            for i in 1..<Swift.max(n, 1) {
                let v = p[i * stride]
                if (wantMax ? v > best : v < best) || (v.isNaN && !best.isNaN) { best = v; at = i }
            }
            return op == .max || op == .min ? best : Float(at)
        }
    }

    /// Float64 sum of `n` values spaced `stride` apart (four accumulators for throughput).
    @inline(__always)
    static func sumStrided(_ p: UnsafePointer<Float>, _ n: Int, _ stride: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, i = 0
        while i + 4 <= n {
            s0 += Double(p[i * stride]); s1 += Double(p[(i + 1) * stride])
            s2 += Double(p[(i + 2) * stride]); s3 += Double(p[(i + 3) * stride])
            i += 4
        }
        while i < n { s0 += Double(p[i * stride]); i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// Sum of all elements, accumulated in float64.
    public func sumAll() -> Double {
        let c = contiguous()
        return Tensor.sumStrided(c.data, c.count, 1)
    }

    /// Mean of all elements (NaN for an empty tensor).
    public func meanAll() -> Double { sumAll() / Double(count) }

    /// Largest element (error when empty).
    public func maxAll() throws -> Float {
        guard count > 0 else { throw TensorError("max: tensor is empty") }
        return Tensor.reduceStrided(.max, contiguous().data, count, 1)
    }

    /// Smallest element (error when empty).
    public func minAll() throws -> Float {
        guard count > 0 else { throw TensorError("min: tensor is empty") }
        return Tensor.reduceStrided(.min, contiguous().data, count, 1)
    }

    /// The p-norm of all elements, accumulated in float64 (p = 2 by default).
    public func norm(_ p: Double = 2) -> Double {
        let c = contiguous()
        return Tensor.normStrided(c.data, c.count, 1, p)
    }

    /// The p-norm along dimension `dim`.
    public func norm(_ p: Double, dim: Int, keepdim: Bool = false) throws -> Tensor {
        try reduceRows(dim: dim, keepdim: keepdim, op: "norm", allowEmpty: true) { Float(Tensor.normStrided($0, $1, $2, p)) }
    }

    /// Float64 p-norm of `n` values spaced `stride` apart.
    static func normStrided(_ x: UnsafePointer<Float>, _ n: Int, _ stride: Int, _ p: Double) -> Double {
        var s = 0.0
        if p == 2 { for i in 0..<n { let v = Double(x[i * stride]); s += v * v }; return s.squareRoot() }
        if p == 1 { for i in 0..<n { s += Swift.abs(Double(x[i * stride])) }; return s }
        if p.isInfinite { for i in 0..<n { s = Swift.max(s, Swift.abs(Double(x[i * stride]))) }; return s }
        for i in 0..<n { s += _pow(Swift.abs(Double(x[i * stride])), p) }
        return _pow(s, 1 / p)
    }
}

import Foundation
@inline(__always) private func _pow(_ a: Double, _ b: Double) -> Double { Foundation.pow(a, b) }
