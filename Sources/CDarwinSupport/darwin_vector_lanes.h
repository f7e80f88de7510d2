// Functions written once for every vector width, shared by the AVX2 (256-bit) and AVX-512 (512-bit) kernels; W is
// the width in bits and TARGET the function's target attribute.
//
// DARWIN_DEFINE_EXP(W, TARGET) defines `darwin_exp_W(__mW x)`: exp on every float lane. The same range reduction and polynomial as `VectorMath.exp` in Swift (Cephes: x = n·ln2 + r, ln2 split in two,
// a degree-6 polynomial), with fused multiply-adds; each lane is computed alone, so both widths give the same bits.
#ifndef DARWIN_VECTOR_LANES_H
#define DARWIN_VECTOR_LANES_H
#include <immintrin.h>

#define DARWIN_DEFINE_EXP(W, TARGET)                                                                          \
    TARGET static inline __m##W darwin_exp_##W(__m##W x) {                                                    \
        const __m##W magic = _mm##W##_set1_ps(12582912.0f);                                                   \
        __m##W xc = _mm##W##_min_ps(_mm##W##_max_ps(x, _mm##W##_set1_ps(-87.3f)), _mm##W##_set1_ps(88.7f));   \
        __m##W t = _mm##W##_fmadd_ps(xc, _mm##W##_set1_ps(1.44269504088896341f), magic);                      \
        __m##W n = _mm##W##_sub_ps(t, magic);                                                                 \
        __m##W r = _mm##W##_fnmadd_ps(n, _mm##W##_set1_ps(0.693359375f), xc);                                 \
        r = _mm##W##_fmadd_ps(n, _mm##W##_set1_ps(2.12194440e-4f), r);                                       \
        __m##W z = _mm##W##_mul_ps(r, r);                                                                     \
        __m##W p = _mm##W##_set1_ps(1.9875691500e-4f);                                                        \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(1.3981999507e-3f));                                     \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(8.3334519073e-3f));                                     \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(4.1665795894e-2f));                                     \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(1.6666665459e-1f));                                     \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(5.0000001201e-1f));                                     \
        __m##W y = _mm##W##_add_ps(_mm##W##_fmadd_ps(p, z, r), _mm##W##_set1_ps(1.0f));                       \
        __m##W##i ni = _mm##W##_sub_epi32(_mm##W##_castps_si##W(t), _mm##W##_set1_epi32(0x4B400000));         \
        __m##W scale = _mm##W##_castsi##W##_ps(_mm##W##_slli_epi32(_mm##W##_add_epi32(ni, _mm##W##_set1_epi32(127)), 23)); \
        return _mm##W##_mul_ps(y, scale);                                                                     \
    }

// DARWIN_DEFINE_FMA_PEAK(W, TARGET, NAME, REG) defines `double NAME(long iterations)`: rounds of 12 independent
// chains of fused multiply-adds (12·W/16 FLOPs a round), enough to cover the FMA units' latency (4 cycles × 2 units,
// with room to spare); REG is the inline-assembly constraint of a W-bit register. Returns a value that depends on
// the work, so that it is not optimised away.
#define DARWIN_FMA4(W, x, y, z, w) x = _mm##W##_fmadd_ps(x, scale, shift); y = _mm##W##_fmadd_ps(y, scale, shift); \
    z = _mm##W##_fmadd_ps(z, scale, shift); w = _mm##W##_fmadd_ps(w, scale, shift)
#define DARWIN_DEFINE_FMA_PEAK(W, TARGET, NAME, REG)                                                             \
    TARGET double NAME(long iterations) {                                                                        \
        const __m##W scale = _mm##W##_set1_ps(0.999f), shift = _mm##W##_set1_ps(0.001f);                         \
        __m##W a0 = _mm##W##_set1_ps(0), a1 = _mm##W##_set1_ps(1), a2 = _mm##W##_set1_ps(2), a3 = _mm##W##_set1_ps(3); \
        __m##W a4 = _mm##W##_set1_ps(4), a5 = _mm##W##_set1_ps(5), a6 = _mm##W##_set1_ps(6), a7 = _mm##W##_set1_ps(7); \
        __m##W a8 = _mm##W##_set1_ps(8), a9 = _mm##W##_set1_ps(9), a10 = _mm##W##_set1_ps(10), a11 = _mm##W##_set1_ps(11); \
        for (long k = 0; k < iterations; k++) {                                                                  \
            DARWIN_FMA4(W, a0, a1, a2, a3); DARWIN_FMA4(W, a4, a5, a6, a7); DARWIN_FMA4(W, a8, a9, a10, a11);    \
            /* every chain opaque to the compiler: none may be folded away (1 is a fixed point of x·0.999 + 0.001) */ \
            __asm__ volatile("" : "+" REG(a0), "+" REG(a1), "+" REG(a2), "+" REG(a3), "+" REG(a4), "+" REG(a5),  \
                             "+" REG(a6), "+" REG(a7), "+" REG(a8), "+" REG(a9), "+" REG(a10), "+" REG(a11));    \
        }                                                                                                        \
        __m##W sum = _mm##W##_add_ps(_mm##W##_add_ps(_mm##W##_add_ps(a0, a1), _mm##W##_add_ps(a2, a3)),          \
                                     _mm##W##_add_ps(_mm##W##_add_ps(_mm##W##_add_ps(a4, a5), _mm##W##_add_ps(a6, a7)), \
                                                     _mm##W##_add_ps(_mm##W##_add_ps(a8, a9), _mm##W##_add_ps(a10, a11)))); \
        return _mm##W##_cvtss_f32(sum);                                                                          \
    }

// Shared by the AVX-512 files: their functions' target attribute, and the mask of a vector's first lanes.
#define DARWIN_AVX512 __attribute__((target("avx512f,fma")))

/// The mask of the first `count` lanes of a 16-lane vector (all 16 when `count` is 16 or more).
static inline __mmask16 darwin_first_lanes16(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

#endif
