// AVX-512 versions of the training step's row and elementwise loops that were portable Swift: RMSNorm forward and
// backward, and SwiGLU's backward pass. Chosen at run time like the other `*_avx512` kernels (per-function target
// attribute, `darwin_has_avx512f`). Sums over a row (x², w·dy·x) and the norm weight's gradient stay in float64, as
// in the portable code; each element's own arithmetic is float32.
#include "darwin_support.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include "darwin_vector_lanes.h"

DARWIN_DEFINE_EXP(512, DARWIN_AVX512)

/// The 16 float lanes of `v` as two vectors of 8 doubles.
#define LOW_DOUBLES(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define HIGH_DOUBLES(v) _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))

/// 1 / sqrt(mean(x²) + eps) of one row, the sum in float64.
DARWIN_AVX512 static inline double inverse_rms(const float *x, long n, double eps) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (long i = 0; i < n; i += 16) {
        const __m512 v = _mm512_maskz_loadu_ps(darwin_first_lanes16(n - i), x + i);
        const __m512d lo = LOW_DOUBLES(v), hi = HIGH_DOUBLES(v);
        s0 = _mm512_fmadd_pd(lo, lo, s0);
        s1 = _mm512_fmadd_pd(hi, hi, s1);
    }
    return 1.0 / __builtin_sqrt(_mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) / (double)n + eps);
}

DARWIN_AVX512 void darwin_rmsnorm_row_avx512(const float *x, const float *w, float *out, long n, double eps) {
    const __m512 scale = _mm512_set1_ps((float)inverse_rms(x, n, eps));
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = darwin_first_lanes16(n - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + i), v));
    }
}

DARWIN_AVX512 void darwin_rmsnorm_backward_row_avx512(const float *x, const float *w, const float *dy, float *dx, double *dw,
                                                     long n, double eps, int accumulate) {
    const double r = inverse_rms(x, n, eps);
    __m512d d0 = _mm512_setzero_pd(), d1 = _mm512_setzero_pd();  // Σ w·dy·x
    const __m512d rv = _mm512_set1_pd(r);
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = darwin_first_lanes16(n - i);
        const __m512 gx = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), _mm512_maskz_loadu_ps(m, x + i));
        const __m512 wgx = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + i), gx);
        d0 = _mm512_add_pd(d0, LOW_DOUBLES(wgx));
        d1 = _mm512_add_pd(d1, HIGH_DOUBLES(wgx));
        // dw += dy·x·r, eight doubles at a time
        const __mmask8 lm = (__mmask8)m, hm = (__mmask8)(m >> 8);
        _mm512_mask_storeu_pd(dw + i, lm, _mm512_fmadd_pd(LOW_DOUBLES(gx), rv, _mm512_maskz_loadu_pd(lm, dw + i)));
        if (hm) _mm512_mask_storeu_pd(dw + i + 8, hm, _mm512_fmadd_pd(HIGH_DOUBLES(gx), rv, _mm512_maskz_loadu_pd(hm, dw + i + 8)));
    }
    const double c = r * r * r * _mm512_reduce_add_pd(_mm512_add_pd(d0, d1)) / (double)n;
    const __m512 rf = _mm512_set1_ps((float)r), cf = _mm512_set1_ps((float)c);
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = darwin_first_lanes16(n - i);
        __m512 g = _mm512_mul_ps(_mm512_mul_ps(rf, _mm512_maskz_loadu_ps(m, w + i)), _mm512_maskz_loadu_ps(m, dy + i));
        g = _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m, x + i), cf, g);
        if (accumulate) g = _mm512_add_ps(g, _mm512_maskz_loadu_ps(m, dx + i));
        _mm512_mask_storeu_ps(dx + i, m, g);
    }
}

DARWIN_AVX512 void darwin_swiglu_backward_avx512(const float *gate, const float *up, const float *da, float *dgate, float *dup,
                                                long n) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = darwin_first_lanes16(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i), d = _mm512_maskz_loadu_ps(m, da + i);
        const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, darwin_exp_512(_mm512_sub_ps(zero, g))));
        const __m512 ds = _mm512_mul_ps(d, s);
        _mm512_mask_storeu_ps(dup + i, m, _mm512_mul_ps(ds, g));
        // d·u·s·(1 + g·(1 - s))
        const __m512 slope = _mm512_fmadd_ps(g, _mm512_sub_ps(one, s), one);
        _mm512_mask_storeu_ps(dgate + i, m, _mm512_mul_ps(_mm512_mul_ps(ds, u), slope));
    }
}

#else
void darwin_rmsnorm_row_avx512(const float *x, const float *w, float *out, long n, double eps) {
    (void)x; (void)w; (void)out; (void)n; (void)eps;
}
void darwin_rmsnorm_backward_row_avx512(const float *x, const float *w, const float *dy, float *dx, double *dw, long n,
                                        double eps, int accumulate) {
    (void)x; (void)w; (void)dy; (void)dx; (void)dw; (void)n; (void)eps; (void)accumulate;
}
void darwin_swiglu_backward_avx512(const float *gate, const float *up, const float *da, float *dgate, float *dup, long n) {
    (void)gate; (void)up; (void)da; (void)dgate; (void)dup; (void)n;
}
#endif
