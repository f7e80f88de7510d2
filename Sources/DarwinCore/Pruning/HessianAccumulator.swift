import COpenBLAS

/// The running average `H = 2/n Σ XᵀX` of a layer's inputs, updated batch by batch in float32 exactly as
/// DarwinLM's reference does (`H *= n/(n+m); n += m; X *= sqrt(2/n); H += XᵀX`).
public final class HessianAccumulator {
    /// Input dimension.
    public let dimension: Int
    /// Number of input rows seen.
    public private(set) var samples = 0
    /// `[dimension, dimension]`, symmetric.
    public let hessian: Tensor

    /// An empty accumulator for inputs of `dimension` features.
    public init(dimension: Int) {
        self.dimension = dimension
        hessian = Tensor(shape: [dimension, dimension], repeating: 0)
    }

    /// Adds the rows of `x` (`[rows, dimension]`).
    public func add(_ x: Tensor) throws {
        guard x.rank == 2, x.shape[1] == dimension else {
            throw TensorError("hessian: inputs of shape \(TensorError.show(x.shape)) do not have \(dimension) features")
        }
        let m = x.shape[0]
        guard m > 0 else { return }
        let c = x.contiguous()
        hessian.binaryInPlace(.mul, scalar: Float(Double(samples) / Double(samples + m)))
        samples += m
        let scale = Float((2.0 / Double(samples)).squareRoot())
        // H += (scale X)ᵀ (scale X): the upper triangle with ssyrk, then mirrored.
        withOpenBLASThreads {
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(dimension), Int32(m), scale * scale,
                        c.data, Int32(dimension), 1, hessian.data, Int32(dimension))
        }
        let h = hessian.data, n = dimension
        Parallel.forEachChunk(count: n, minimumChunk: max(1, 65536 / max(n, 1))) { rows in
            for i in rows { for j in 0..<i { h[i * n + j] = h[j * n + i] } }
        }
    }
}
