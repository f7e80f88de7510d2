import COpenBLAS
import Foundation

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

    /// The operand starting `rows` rows further down op(A).
    func droppingRows(_ rows: Int) -> GemmOperand {
        GemmOperand(pointer: pointer + (transposed ? rows : rows * leadingDimension), transposed: transposed, leadingDimension: leadingDimension)
    }

    /// The operand starting `columns` columns further right in op(B).
    func droppingColumns(_ columns: Int) -> GemmOperand {
        GemmOperand(pointer: pointer + (transposed ? columns * leadingDimension : columns), transposed: transposed, leadingDimension: leadingDimension)
    }
}

/// The BLAS library the process runs on, as it names itself (`openblas_get_config`: version, build options and the
/// kernels chosen for this CPU). The library is found when the process starts, so a newer OpenBLAS first on the
/// library path (Debian 13's 0.3.29, say), or Intel's MKL behind OpenBLAS's interface (`scripts/setup-mkl.sh`), is
/// the one used, without rebuilding darwinhost.
public enum BLASLibrary {
    /// For example "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64", or "MKL 2026.2 (...)".
    public static let description: String = {
        guard let config = openblas_get_config() else { return "OpenBLAS" }
        return String(cString: config).trimmingCharacters(in: .whitespacesAndNewlines)
    }()
}

/// OpenBLAS is made single-threaded once, before the first product: darwinhost owns all threads.
private let singleThreadedOpenBLAS: Void = { openblas_set_num_threads(1) }()

/// Runs `body` with OpenBLAS's own threading at `Parallel.threads` (for the few routines darwinhost does not split
/// itself: Cholesky, symmetric rank-k updates); inside a parallel loop it stays single-threaded.
func withOpenBLASThreads<T>(_ body: () throws -> T) rethrows -> T {
    _ = singleThreadedOpenBLAS
    let threads = Parallel.insideParallelLoop ? 1 : Parallel.threads
    if threads > 1 { openblas_set_num_threads(Int32(threads)) }
    defer { if threads > 1 { openblas_set_num_threads(1) } }
    return try body()
}

/// Products smaller than this (m·n·k) run on the calling thread.
private let parallelGemmWork = 1 << 21

/// `C = alpha * op(A) * op(B) + beta * C` on row-major float32 matrices (C is m×n with leading dimension ldc).
/// Large products are split into bands of C's rows or of its columns, one single-threaded OpenBLAS call per worker
/// of `Parallel`; inside a parallel loop the product runs on the calling worker. Every band packs the whole of the
/// operand it shares (B for bands of rows, A for bands of columns), so the split goes along C's longer side, which
/// shares the smaller operand: for the LM head's `[512, hidden] × [hidden, vocabulary]` chunk, bands of rows had
/// each worker pack the whole head.
func sgemm(_ a: GemmOperand, _ b: GemmOperand, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int,
           ldc: Int, alpha: Float = 1, beta: Float = 0) {
    _ = singleThreadedOpenBLAS
    let workers = Parallel.threads
    guard workers > 1, !Parallel.insideParallelLoop, m * n * k >= parallelGemmWork else {
        serialSgemm(a, b, c, m: m, n: n, k: k, ldc: ldc, alpha: alpha, beta: beta)
        return
    }
    if m >= n {
        Parallel.forEachChunk(count: m, minimumChunk: Swift.max(1, m / workers)) { r in
            serialSgemm(a.droppingRows(r.lowerBound), b, c + r.lowerBound * ldc, m: r.count, n: n, k: k, ldc: ldc, alpha: alpha, beta: beta)
        }
    } else {
        Parallel.forEachChunk(count: n, minimumChunk: Swift.max(1, n / workers)) { r in
            serialSgemm(a, b.droppingColumns(r.lowerBound), c + r.lowerBound, m: m, n: r.count, k: k, ldc: ldc, alpha: alpha, beta: beta)
        }
    }
}

/// One OpenBLAS call on the calling thread.
@inline(__always)
private func serialSgemm(_ a: GemmOperand, _ b: GemmOperand, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int,
                         ldc: Int, alpha: Float, beta: Float) {
    cblas_sgemm(CblasRowMajor, a.transposed ? CblasTrans : CblasNoTrans, b.transposed ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a.pointer, Int32(a.leadingDimension),
                b.pointer, Int32(b.leadingDimension), beta, c, Int32(Swift.max(ldc, 1)))
}

/// `C = alpha * op(A) * op(B) + beta * C` on row-major float64 matrices (the OBS updates of the compression
/// database). Large products are split into bands of C's rows (or columns, when it has few rows) across the
/// workers of `Parallel`, one single-threaded OpenBLAS call each.
func dgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Double = 1,
           _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
           beta: Double = 0, _ c: UnsafeMutablePointer<Double>, ldc: Int) {
    _ = singleThreadedOpenBLAS
    guard m > 0, n > 0 else { return }
    func serial(_ rows: Range<Int>, _ cols: Range<Int>) {
        let aStart = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
        let bStart = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(rows.count), Int32(cols.count), Int32(k), alpha, aStart, Int32(Swift.max(lda, 1)),
                    bStart, Int32(Swift.max(ldb, 1)), beta, c + rows.lowerBound * ldc + cols.lowerBound, Int32(Swift.max(ldc, 1)))
    }
    let workers = Parallel.threads
    guard workers > 1, !Parallel.insideParallelLoop, m * n * Swift.max(k, 1) >= parallelGemmWork else { serial(0..<m, 0..<n); return }
    if m >= 16 * workers || m >= n {
        Parallel.forEachChunk(count: m, minimumChunk: Swift.max(1, m / workers)) { serial($0, 0..<n) }
    } else {
        Parallel.forEachChunk(count: n, minimumChunk: Swift.max(1, n / workers)) { serial(0..<m, $0) }
    }
}
