import COpenBLAS

/// A matrix operand as OpenBLAS wants it: a pointer, whether it is transposed, and its leading dimension.
struct GemmOperand {
    let pointer: UnsafeMutablePointer<Float>
    let transposed: Bool
    let leadingDimension: Int

    /// Describes the last two dims of `t` at element offset `offset` without copying, when its strides allow.
    /// Returns nil when the layout needs a contiguous copy first.
    static func describe(_ t: Tensor, offset: Int, rows: Int, cols: Int) -> GemmOperand? {
        let rs = t.strides[t.rank - 2], cs = t.strides[t.rank - 1]
        if cs == 1 || cols == 1, rs >= Swift.max(1, cols) || rows == 1 {
            return GemmOperand(pointer: t.data + offset, transposed: false, leadingDimension: Swift.max(rows == 1 ? cols : rs, 1))
        }
        if rs == 1 || rows == 1, cs >= Swift.max(1, rows) {
            return GemmOperand(pointer: t.data + offset, transposed: true, leadingDimension: Swift.max(cs, 1))
        }
        return nil
    }
}

/// `C = alpha * op(A) * op(B) + beta * C` on row-major float32 matrices (C is m×n with leading dimension ldc).
func sgemm(_ a: GemmOperand, _ b: GemmOperand, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int,
           ldc: Int, alpha: Float = 1, beta: Float = 0) {
    cblas_sgemm(CblasRowMajor, a.transposed ? CblasTrans : CblasNoTrans, b.transposed ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a.pointer, Int32(a.leadingDimension),
                b.pointer, Int32(b.leadingDimension), beta, c, Int32(Swift.max(ldc, 1)))
}
