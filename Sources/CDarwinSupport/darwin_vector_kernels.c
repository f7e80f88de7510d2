// AVX2 + FMA versions of darwinhost's elementwise hot loops, chosen at run time by `darwin_has_avx2_fma`.
// Swift's SIMD types compile to SSE for a generic x86-64 target; these functions are compiled for AVX2/FMA
// only (per-function target attribute), so the binary still runs on CPUs without them.
#include "darwin_support.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include "darwin_vector_lanes.h"
#define DARWIN_AVX2 __attribute__((target("avx2,fma")))

int darwin_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

DARWIN_DEFINE_EXP(256, DARWIN_AVX2)

DARWIN_AVX2 static inline double sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return (double)_mm_cvtss_f32(s);
}

DARWIN_AVX2 double darwin_exp_shifted_avx2(const float *x, float *out, long n, float shift) {
    const __m256 s = _mm256_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    double total = 0;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = darwin_exp_256(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        if (out) _mm256_storeu_ps(out + i, e);
        acc = _mm256_add_ps(acc, e);
        if ((i + 8) % 512 == 0) { total += sum8(acc); acc = _mm256_setzero_ps(); }  // keep float partial sums short
    }
    total += sum8(acc);
    for (; i < n; i++) {
        float e = expf(x[i] - shift);
        if (out) out[i] = e;
        total += e;
    }
    return total;
}

DARWIN_AVX2 float darwin_bf16_dot_avx2(const uint16_t *w, const float *x, long n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
#define DARWIN_BF16_LANES(acc, k) acc = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32( \
        _mm_loadu_si128((const __m128i *)(w + i + k))), 16)), _mm256_loadu_ps(x + i + k), acc)
        DARWIN_BF16_LANES(s0, 0); DARWIN_BF16_LANES(s1, 8); DARWIN_BF16_LANES(s2, 16); DARWIN_BF16_LANES(s3, 24);
    }
    for (; i + 8 <= n; i += 8) DARWIN_BF16_LANES(s0, 0);
#undef DARWIN_BF16_LANES
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    float total = _mm_cvtss_f32(h);
    for (; i < n; i++) { union { uint32_t u; float f; } v = {.u = (uint32_t)w[i] << 16}; total += v.f * x[i]; }
    return total;
}

/// One AdamW update of 8 values in place, in exactly the scalar loop's order of operations (no fused multiply-adds,
/// IEEE square root and division): the vector and scalar paths agree bit for bit.
DARWIN_AVX2 static inline void adamw8(float *p, const float *g, float *m, float *v, const darwin_adamw_constants *c) {
    __m256 gv = _mm256_loadu_ps(g);
    __m256 pv = _mm256_mul_ps(_mm256_loadu_ps(p), _mm256_set1_ps(c->decay));
    __m256 mv = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(c->beta1), _mm256_loadu_ps(m)),
                              _mm256_mul_ps(_mm256_set1_ps(1 - c->beta1), gv));
    __m256 vv = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(c->beta2), _mm256_loadu_ps(v)),
                              _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(1 - c->beta2), gv), gv));
    __m256 denominator = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vv), _mm256_set1_ps(c->sqrt_bias2)),
                                       _mm256_set1_ps(c->epsilon));
    pv = _mm256_sub_ps(pv, _mm256_div_ps(_mm256_mul_ps(_mm256_set1_ps(c->step_size), mv), denominator));
    _mm256_storeu_ps(m, mv);
    _mm256_storeu_ps(v, vv);
    _mm256_storeu_ps(p, pv);
}

DARWIN_AVX2 void darwin_adamw_avx2(float *p, const float *g, float *m, float *v, long n, const darwin_adamw_constants *c) {
    long i = 0;
    for (; i + 8 <= n; i += 8) adamw8(p + i, g + i, m + i, v + i, c);
    if (i == n) return;
    // The last few values go through the same 8-lane arithmetic on a padded copy.
    float tp[8] = {0}, tg[8] = {0}, tm[8] = {0}, tv[8] = {0};
    long rest = n - i;
    memcpy(tp, p + i, rest * sizeof(float)); memcpy(tg, g + i, rest * sizeof(float));
    memcpy(tm, m + i, rest * sizeof(float)); memcpy(tv, v + i, rest * sizeof(float));
    adamw8(tp, tg, tm, tv, c);
    memcpy(p + i, tp, rest * sizeof(float)); memcpy(m + i, tm, rest * sizeof(float)); memcpy(v + i, tv, rest * sizeof(float));
}

DARWIN_DEFINE_FMA_PEAK(256, DARWIN_AVX2, darwin_fma_peak_avx2, "x")

DARWIN_AVX2 void darwin_swiglu_avx2(float *gate, const float *up, long n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(gate + i);
        __m256 silu = _mm256_div_ps(a, _mm256_add_ps(one, darwin_exp_256(_mm256_sub_ps(zero, a))));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) { float a = gate[i]; gate[i] = a / (1 + expf(-a)) * up[i]; }
}

DARWIN_AVX2 static inline float max_avx2(const float *x, long n) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    long i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    float r = _mm_cvtss_f32(h);
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

/// Scores of query rows q[0..5] against keys [j, j+16): 6×16 dot products of length hd, times `scale`.
DARWIN_AVX2 static inline void scores_6x16(const float *const q[6], const float *kT, long ldk, long j, long hd,
                                           float scale, float *s, long lds) {
    __m256 a[6][2];
    for (int r = 0; r < 6; r++) { a[r][0] = _mm256_setzero_ps(); a[r][1] = _mm256_setzero_ps(); }
    for (long d = 0; d < hd; d++) {
        const float *k = kT + d * ldk + j;
        __m256 k0 = _mm256_loadu_ps(k), k1 = _mm256_loadu_ps(k + 8);
        for (int r = 0; r < 6; r++) {
            __m256 b = _mm256_broadcast_ss(q[r] + d);
            a[r][0] = _mm256_fmadd_ps(b, k0, a[r][0]); a[r][1] = _mm256_fmadd_ps(b, k1, a[r][1]);
        }
    }
    const __m256 sc = _mm256_set1_ps(scale);
    for (int r = 0; r < 6; r++) {
        _mm256_storeu_ps(s + r * lds + j, _mm256_mul_ps(a[r][0], sc)); _mm256_storeu_ps(s + r * lds + j + 8, _mm256_mul_ps(a[r][1], sc));
    }
}

/// out_r[c*8 ..] = scale_r * sum over j < n of p_r[j] v[j] for the first `rows` of 3 rows r, and `w` (1 to 4) vectors
/// of 8 columns; the scales are the softmax normalisations, applied once per output instead of once per weight.
DARWIN_AVX2 static inline void context_3rows(const float *const p[3], const float *v, long ldv, long n, int w,
                                             const float scale[3], float *const out[3], int rows) {
    __m256 a[3][4];
    for (int r = 0; r < 3; r++) for (int c = 0; c < 4; c++) a[r][c] = _mm256_setzero_ps();
    for (long j = 0; j < n; j++) {
        const float *vr = v + j * ldv;
        __m256 b0 = _mm256_broadcast_ss(p[0] + j), b1 = _mm256_broadcast_ss(p[1] + j), b2 = _mm256_broadcast_ss(p[2] + j);
        for (int c = 0; c < w; c++) {
            __m256 x = _mm256_loadu_ps(vr + 8 * c);
            a[0][c] = _mm256_fmadd_ps(b0, x, a[0][c]);
            a[1][c] = _mm256_fmadd_ps(b1, x, a[1][c]);
            a[2][c] = _mm256_fmadd_ps(b2, x, a[2][c]);
        }
    }
    for (int r = 0; r < rows; r++) {
        const __m256 s = _mm256_set1_ps(scale[r]);
        for (int c = 0; c < w; c++) _mm256_storeu_ps(out[r] + 8 * c, _mm256_mul_ps(a[r][c], s));
    }
}

DARWIN_AVX2 void darwin_causal_attention_head_avx2(const float *q, long ldq, const float *kT, long ldk, const float *v,
                                                   long ldv, float *out, long ldo, long seq, long hd, float scale,
                                                   float *scratch, long window) {
    for (long i0 = 0; i0 < seq; i0 += 6) {
        const long rows = seq - i0 < 6 ? seq - i0 : 6, keys = i0 + rows;
        const float *qr[6];
        for (long r = 0; r < 6; r++) qr[r] = q + (i0 + (r < rows ? r : 0)) * ldq;
        for (long j = 0; j < keys; j += 16) scores_6x16(qr, kT, ldk, j, hd, scale, scratch, ldk);
        float inverse[6] = {0, 0, 0, 0, 0, 0};
        for (long r = 0; r < rows; r++) {
            float *row = scratch + r * ldk;
            const long n = i0 + r + 1, first = window > 0 && n > window ? n - window : 0;
            inverse[r] = (float)(1.0 / darwin_exp_shifted_avx2(row + first, row + first, n - first, max_avx2(row + first, n - first)));
            for (long j = 0; j < first; j++) row[j] = 0;  // keys before a sliding window
            for (long j = n; j < keys; j++) row[j] = 0;  // the causal mask within the block
        }
        for (long r = 0; r < rows; r += 3) {  // the context of 3 rows at a time, over the keys the last of them sees
            const int group = rows - r < 3 ? (int)(rows - r) : 3;
            const long n = i0 + r + group;
            const float *p[3];
            float *o[3];
            for (int g = 0; g < 3; g++) {
                const int used = g < group ? g : 0;
                p[g] = scratch + (r + used) * ldk;
                o[g] = out + (i0 + r + used) * ldo;
            }
            for (long c = 0; c < hd; c += 32) {  // 32 columns at a time, the last 8 to 24 in one narrower call
                float *oc[3] = {o[0] + c, o[1] + c, o[2] + c};
                context_3rows(p, v + c, ldv, n, hd - c >= 32 ? 4 : (int)((hd - c) / 8), inverse + r, oc, group);
            }
        }
    }
}

#else
int darwin_has_avx2_fma(void) { return 0; }
double darwin_exp_shifted_avx2(const float *x, float *out, long n, float shift) { (void)x; (void)out; (void)n; (void)shift; return 0; }
void darwin_swiglu_avx2(float *gate, const float *up, long n) { (void)gate; (void)up; (void)n; }
double darwin_fma_peak_avx2(long iterations) { (void)iterations; return 0; }
void darwin_adamw_avx2(float *p, const float *g, float *m, float *v, long n, const darwin_adamw_constants *c) {
    (void)p; (void)g; (void)m; (void)v; (void)n; (void)c;
}
float darwin_bf16_dot_avx2(const uint16_t *w, const float *x, long n) { (void)w; (void)x; (void)n; return 0; }
void darwin_causal_attention_head_avx2(const float *q, long ldq, const float *kT, long ldk, const float *v, long ldv,
                                       float *out, long ldo, long seq, long hd, float scale, float *scratch, long window) {
    (void)q; (void)ldq; (void)kT; (void)ldk; (void)v; (void)ldv; (void)out; (void)ldo; (void)seq; (void)hd; (void)scale; (void)scratch;
    (void)window;
}
#endif
