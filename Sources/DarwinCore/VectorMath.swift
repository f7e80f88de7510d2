import CDarwinSupport
import Foundation

/// Vectorised elementary functions for the hot loops (softmax, log-sum-exp, SwiGLU).
enum VectorMath {
    /// Lanewise maximum and minimum as the standard library defines them (`pointwiseMax`/`pointwiseMin`), written
    /// with a compare and select, which the compiler inlines into vector max/min instructions; the generic
    /// standard-library functions compile to a call per vector here (7-9% of a forward pass in profiles).
    @inline(__always)
    static func max(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: a .< b) }
    @inline(__always)
    static func min(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }

    /// `exp` on 8 lanes: Cephes' range reduction (x = n ln2 + r, ln2 split in two) and degree-6 polynomial;
    /// relative error about 1e-7 over the float range. Inputs below -87.3 give ~0, above 88.7 give ~float max.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let xc = min(max(x, SIMD8(repeating: -87.3)), SIMD8(repeating: 88.7))
        // Round x·log2(e) to the nearest integer with the 1.5·2^23 trick: the integer lands in the low mantissa
        // bits (no generic float→int conversion, which does not vectorise).
        let magic = SIMD8<Float>(repeating: 12582912)
        let t = xc * 1.44269504088896341 + magic
        let n = t - magic
        let r = xc - n * 0.693359375 + n * 2.12194440e-4
        let z = r * r
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * z + r + 1
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        return y * unsafeBitCast((ni &+ 127) &<< 23, to: SIMD8<Float>.self)
    }

    /// Whether the AVX2 + FMA kernels of `CDarwinSupport` run (checked once per process). Swift's SIMD code
    /// compiles to SSE for a generic x86-64 target; `DARWIN_PORTABLE_KERNELS=1` forces the portable Swift code.
    static let useAVX2: Bool = darwin_has_avx2_fma() != 0 && getenv("DARWIN_PORTABLE_KERNELS") == nil

    /// Whether the AVX-512 kernels run where they exist (attention, exp, SwiGLU, RMSNorm), on top of the AVX2 ones;
    /// checked once per process. `DARWIN_NO_AVX512=1` keeps the AVX2 kernels (to compare the two widths in one binary).
    static let useAVX512: Bool = useAVX2 && darwin_has_avx512f() != 0 && getenv("DARWIN_NO_AVX512") == nil

    /// `out[i] = exp(x[i] - shift)` for `n` contiguous values; returns their sum in float64.
    @inline(__always)
    static func expShifted(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>?, _ n: Int, shift: Float) -> Double {
        if useAVX512 { return darwin_exp_shifted_avx512(x, out, n, shift) }
        return useAVX2 ? darwin_exp_shifted_avx2(x, out, n, shift) : expShiftedPortable(x, out, n, shift: shift)
    }

    /// `expShifted` in portable Swift SIMD.
    static func expShiftedPortable(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>?, _ n: Int, shift: Float) -> Double {
        var i = 0
        var acc = SIMD8<Float>(repeating: 0)
        var total = 0.0
        let s = SIMD8<Float>(repeating: shift)
        while i + 8 <= n {
            let e = exp(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - s)
            if let out { UnsafeMutableRawPointer(out + i).storeBytes(of: e, as: SIMD8<Float>.self) }
            acc += e
            i += 8
            if i % 512 == 0 { total += Double(acc.sum()); acc = .zero }  // keep float partial sums short
        }
        total += Double(acc.sum())
        while i < n {
            let e = Foundation.exp(x[i] - shift)
            out?[i] = e
            total += Double(e)
            i += 1
        }
        return total
    }

    /// Largest of `n` contiguous values.
    @inline(__always)
    static func maximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var m8 = SIMD8<Float>(repeating: -.infinity)
        while i + 8 <= n { m8 = max(m8, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)); i += 8 }
        var m = m8.max()
        while i < n { m = Swift.max(m, x[i]); i += 1 }
        return m
    }
}
