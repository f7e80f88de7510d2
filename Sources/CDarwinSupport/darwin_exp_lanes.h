// exp on a whole vector register of float lanes, shared by the AVX2 (256-bit) and AVX-512 (512-bit) kernels:
// DARWIN_DEFINE_EXP(W, TARGET) defines `darwin_exp_W(__mW x)`, with TARGET the function's target attribute.
// The same range reduction and polynomial as `VectorMath.exp` in Swift (Cephes: x = n·ln2 + r, ln2 split in two,
// a degree-6 polynomial), with fused multiply-adds; each lane is computed alone, so both widths give the same bits.
#ifndef DARWIN_EXP_LANES_H
#define DARWIN_EXP_LANES_H
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

#endif
