// AVX-512 versions of darwinhost's widest hot loops (attention, exp, SwiGLU), chosen at run time by
// `darwin_has_avx512f`, compiled for AVX-512F only (per-function target attribute) like the AVX2 kernels beside
// them. On CPUs with AVX-512 (Intel Xeon Skylake-SP and later) OpenBLAS already runs its 512-bit sgemm, and these
// kernels keep the rest of a forward pass at the same width: the fused attention runs 2.5-2.9x the AVX2 kernel's speed.
#include "darwin_support.h"
#include <math.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include "darwin_vector_lanes.h"

int darwin_has_avx512f(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

DARWIN_DEFINE_EXP(512, DARWIN_AVX512)

DARWIN_AVX512 double darwin_exp_shifted_avx512(const float *x, float *out, long n, float shift) {
    const __m512 s = _mm512_set1_ps(shift);
    __m512 acc = _mm512_setzero_ps();
    double total = 0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = darwin_exp_512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
        if (out) _mm512_storeu_ps(out + i, e);
        acc = _mm512_add_ps(acc, e);
        if ((i + 16) % 512 == 0) { total += _mm512_reduce_add_ps(acc); acc = _mm512_setzero_ps(); }  // short float sums
    }
    if (i < n) {  // the last 1 to 15 values, masked
        const __mmask16 m = darwin_first_lanes16(n - i);
        __m512 e = darwin_exp_512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
        if (out) _mm512_mask_storeu_ps(out + i, m, e);
        acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(m, e));
    }
    return total + _mm512_reduce_add_ps(acc);
}

DARWIN_AVX512 void darwin_swiglu_avx512(float *gate, const float *up, long n) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = darwin_first_lanes16(n - i);
        __m512 a = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 silu = _mm512_div_ps(a, _mm512_add_ps(one, darwin_exp_512(_mm512_sub_ps(zero, a))));
        _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

DARWIN_DEFINE_FMA_PEAK(512, DARWIN_AVX512, darwin_fma_peak_avx512, "v")

DARWIN_AVX512 static inline float max_avx512(const float *x, long n) {
    __m512 m = _mm512_set1_ps(-INFINITY);
    long i = 0;
    for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    if (i < n) {
        const __mmask16 tail = darwin_first_lanes16(n - i);
        m = _mm512_mask_max_ps(m, tail, m, _mm512_maskz_loadu_ps(tail, x + i));
    }
    return _mm512_reduce_max_ps(m);
}

/// Query rows per block of the fused attention: 12 rows × 2 vectors of accumulators fill 24 of the 32 registers.
#define ROWS DARWIN_ATTENTION_AVX512_ROWS
#define TILE DARWIN_ATTENTION_AVX512_KEY_TILE

/// Scores of the block's query rows against one tile of 32 keys (`tile`: hd rows of 32 keys), times `scale`.
DARWIN_AVX512 static inline void scores_tile(const float *const q[ROWS], const float *tile, long hd, float scale,
                                             float *s, long lds) {
    __m512 a[ROWS][2];
    for (int r = 0; r < ROWS; r++) { a[r][0] = _mm512_setzero_ps(); a[r][1] = _mm512_setzero_ps(); }
    for (long d = 0; d < hd; d++) {
        const __m512 k0 = _mm512_loadu_ps(tile + d * TILE), k1 = _mm512_loadu_ps(tile + d * TILE + 16);
        for (int r = 0; r < ROWS; r++) {
            const __m512 b = _mm512_set1_ps(q[r][d]);
            a[r][0] = _mm512_fmadd_ps(b, k0, a[r][0]); a[r][1] = _mm512_fmadd_ps(b, k1, a[r][1]);
        }
    }
    const __m512 sc = _mm512_set1_ps(scale);
    for (int r = 0; r < ROWS; r++) {
        _mm512_storeu_ps(s + r * lds, _mm512_mul_ps(a[r][0], sc));
        _mm512_storeu_ps(s + r * lds + 16, _mm512_mul_ps(a[r][1], sc));
    }
}

/// out_r[0 .. 16·width) = scale_r · Σ_{first ≤ j < n} p_r[j] v[j] for the block's rows (the first `rows` stored), in
/// `width` (1 or 2) vectors of 16 columns; the scales are the softmax normalisations, applied once per output.
__attribute__((always_inline)) DARWIN_AVX512 static inline void context_columns(
    const float *const p[ROWS], const float *v, long ldv, long first, long n, const float scale[ROWS],
    float *const out[ROWS], long column, int rows, int width) {
    __m512 a[ROWS][2];
    for (int r = 0; r < ROWS; r++) { a[r][0] = _mm512_setzero_ps(); a[r][1] = _mm512_setzero_ps(); }
    for (long j = first; j < n; j++) {
        const float *vr = v + j * ldv + column;
        const __m512 x0 = _mm512_loadu_ps(vr), x1 = width == 2 ? _mm512_loadu_ps(vr + 16) : x0;
        for (int r = 0; r < ROWS; r++) {
            const __m512 b = _mm512_set1_ps(p[r][j]);
            a[r][0] = _mm512_fmadd_ps(b, x0, a[r][0]);
            if (width == 2) a[r][1] = _mm512_fmadd_ps(b, x1, a[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        const __m512 s = _mm512_set1_ps(scale[r]);
        _mm512_storeu_ps(out[r] + column, _mm512_mul_ps(a[r][0], s));
        if (width == 2) _mm512_storeu_ps(out[r] + column + 16, _mm512_mul_ps(a[r][1], s));
    }
}

DARWIN_AVX512 void darwin_causal_attention_head_avx512(const float *q, long ldq, const float *keys, const float *v,
                                                     long ldv, float *out, long ldo, long seq, long hd, float scale,
                                                     float *scratch, long lds, long window) {
    for (long i0 = 0; i0 < seq; i0 += ROWS) {
        const long rows = seq - i0 < ROWS ? seq - i0 : ROWS, end = i0 + rows;
        const long first0 = window > 0 && i0 + 1 > window ? i0 + 1 - window : 0;  // the block's earliest key
        const float *qr[ROWS], *p[ROWS];
        float *o[ROWS];
        for (long r = 0; r < ROWS; r++) {  // rows past the end repeat the first row; their results are not stored
            const long used = r < rows ? r : 0;
            qr[r] = q + (i0 + used) * ldq; p[r] = scratch + used * lds; o[r] = out + (i0 + used) * ldo;
        }
        for (long t = first0 / TILE; t * TILE < end; t++) scores_tile(qr, keys + t * hd * TILE, hd, scale, scratch + t * TILE, lds);
        float inverse[ROWS] = {0};
        for (long r = 0; r < rows; r++) {
            float *row = scratch + r * lds;
            const long n = i0 + r + 1, first = window > 0 && n > window ? n - window : 0;
            inverse[r] = (float)(1.0 / darwin_exp_shifted_avx512(row + first, row + first, n - first, max_avx512(row + first, n - first)));
            for (long j = first0; j < first; j++) row[j] = 0;  // keys before this row's sliding window
            for (long j = n; j < end; j++) row[j] = 0;  // the causal mask within the block
        }
        for (long c = 0; c < hd; c += 32) {  // 32 columns at a time, the last 16 alone
            if (hd - c >= 32) context_columns(p, v, ldv, first0, end, inverse, o, c, (int)rows, 2);
            else context_columns(p, v, ldv, first0, end, inverse, o, c, (int)rows, 1);
        }
    }
}

#else
int darwin_has_avx512f(void) { return 0; }
double darwin_exp_shifted_avx512(const float *x, float *out, long n, float shift) { (void)x; (void)out; (void)n; (void)shift; return 0; }
void darwin_swiglu_avx512(float *gate, const float *up, long n) { (void)gate; (void)up; (void)n; }
double darwin_fma_peak_avx512(long iterations) { (void)iterations; return 0; }
void darwin_causal_attention_head_avx512(const float *q, long ldq, const float *keys, const float *v, long ldv, float *out,
                                         long ldo, long seq, long hd, float scale, float *scratch, long lds, long window) {
    (void)q; (void)ldq; (void)keys; (void)v; (void)ldv; (void)out; (void)ldo; (void)seq; (void)hd; (void)scale;
    (void)scratch; (void)lds; (void)window;
}
#endif
