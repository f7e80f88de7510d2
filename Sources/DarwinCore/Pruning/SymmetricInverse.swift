import CDarwinSupport
import COpenBLAS

/// Inverse of a symmetric positive definite matrix through LAPACK's Cholesky routines (float64).
enum SymmetricInverse {
    /// Inverts the `n`×`n` matrix at `a` (row-major, symmetric) in place; throws when it is not positive definite.
    /// `multithreaded` lets OpenBLAS use `Parallel.threads` for this call (only outside darwinhost's parallel loops).
    static func invert(_ a: UnsafeMutablePointer<Double>, n: Int, multithreaded: Bool = false) throws {
        guard n > 0 else { return }
        if multithreaded { try withOpenBLASThreads { try factorAndInvert(a, n: n) } } else { try factorAndInvert(a, n: n) }
    }

    private static func factorAndInvert(_ a: UnsafeMutablePointer<Double>, n: Int) throws {
        var info: Int32 = 0
        var size = Int32(n), lda = Int32(n)
        var uplo = CChar(UInt8(ascii: "L"))
        dpotrf_(&uplo, &size, a, &lda, &info)
        guard info == 0 else { throw TensorError("cholesky: matrix is not positive definite (leading minor \(info)); increase rel_damp") }
        dpotri_(&uplo, &size, a, &lda, &info)
        guard info == 0 else { throw TensorError("cholesky inverse failed (info \(info))") }
        // Column-major 'L' is the row-major upper triangle (i <= j): that is where dpotri wrote; mirror it down.
        for i in 0..<n { for j in 0..<i { a[i * n + j] = a[j * n + i] } }
    }

    /// Array form of `invert(_:n:multithreaded:)`.
    static func invert(_ a: inout [Double], n: Int) throws {
        try a.withUnsafeMutableBufferPointer { try invert($0.baseAddress!, n: n) }
    }
}
