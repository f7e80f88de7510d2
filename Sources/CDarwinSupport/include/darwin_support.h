/// Small C helpers for DarwinCore that Swift cannot express directly.
#ifndef DARWIN_SUPPORT_H
#define DARWIN_SUPPORT_H

#include <stdint.h>

/// Keeps freed tensor memory in the process heap instead of returning it to the kernel on every free
/// (glibc `mallopt`: mmap threshold 32 MiB, trim threshold 512 MiB). Without it each new output tensor
/// page-faults its memory in again, which made a fresh 16 MB add 7x slower than the add itself.
void darwin_tune_malloc(void);
/// Returns the heap's free pages to the system (glibc `malloc_trim`); nothing elsewhere.
void darwin_release_free_heap(void);
/// keep != 0: the heap keeps the pages of freed memory (no automatic trim); 0: back to trimming above 512 MiB of free
/// memory at the top of the heap, and every free page is returned now.
void darwin_keep_freed_heap(int keep);
/// Whether the calling thread is running the body of one of darwinhost's parallel loops (a thread-local flag: loops
/// and matrix products started there stay on that thread).
int darwin_in_parallel_worker(void);
/// Sets the calling thread's flag; returns its previous value.
int darwin_set_parallel_worker(int worker);
/// Asks the kernel to back the 2 MiB-aligned pages inside [p, p + bytes) with transparent huge pages (Linux
/// `madvise(MADV_HUGEPAGE)`, which the default `madvise` mode of THP waits for): one page fault and one TLB entry
/// per 2 MiB instead of 512. Nothing where the range holds no whole huge page or the system does not have them.
void darwin_advise_huge_pages(void *p, long bytes);
/* Ctrl-C for long work in Swift: the SIGINT handler requests, loops poll and clear (async-signal-safe). */
void darwin_interrupt_request(void);
int darwin_interrupt_pending(void);
void darwin_interrupt_clear(void);
/* Ctrl-C at an interactive prompt: sets the flag instead of ending the process (until _end). */
void darwin_prompt_interrupt_begin(void);
/* A parent may have started us from a thread that blocks signals (libdispatch workers do): unblock SIGINT. */
void darwin_unblock_sigint(void);
void darwin_prompt_interrupt_end(void);
/* Atomically swaps two existing paths (renameat2 RENAME_EXCHANGE); -1 where the kernel or file system cannot. */
int darwin_exchange_paths(const char *a, const char *b);

/// LAPACK (exported by libopenblas): Cholesky factorisation and inverse from it, column-major, float64.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

/// Whether this CPU (and OS) supports AVX2 and FMA, which the `*_avx2` kernels below need.
int darwin_has_avx2_fma(void);

/// `out[i] = exp(x[i] - shift)` (out may be NULL) for n values; returns their sum in float64. AVX2 + FMA only.
double darwin_exp_shifted_avx2(const float *x, float *out, long n, float shift);

/// Σ w[i]·x[i] of a bfloat16 row (raw bits) and a float32 vector (decoding one token against 16-bit weights).
float darwin_bf16_dot_avx2(const uint16_t *w, const float *x, long n);
/// `gate[i] = silu(gate[i]) * up[i]` for n values. AVX2 + FMA only.
void darwin_swiglu_avx2(float *gate, const float *up, long n);

/// Runs `iterations` rounds of 12 independent 8-lane fused multiply-adds (192 FLOPs a round) on one core: the
/// core's arithmetic peak, for benchmarks. Returns a value that depends on the work (so it is not optimised away).
double darwin_fma_peak_avx2(long iterations);

/// The per-step constants of an AdamW update (see `darwin_adamw_avx2`).
typedef struct {
    float beta1, beta2, step_size, decay, sqrt_bias2, epsilon;
} darwin_adamw_constants;

/// AdamW on n values in place, AVX2 only: p *= decay; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g·g;
/// p -= step_size·m / (√v / sqrt_bias2 + ε). The same operations in the same order as the scalar loop.
void darwin_adamw_avx2(float *p, const float *g, float *m, float *v, long n, const darwin_adamw_constants *c);

/// Causal attention of one query head over `seq` positions, AVX2 + FMA only; `hd` a multiple of 8.
/// q: row i at q + i*ldq; kT: the head's keys transposed (hd rows of ldk >= seq rounded up to 16, zero beyond seq);
/// v: row j at v + j*ldv; out: row i at out + i*ldo; scratch: 6*ldk floats. `window` > 0: query i sees only the
/// keys i-window+1...i (a sliding window); 0: every key up to i.
void darwin_causal_attention_head_avx2(const float *q, long ldq, const float *kT, long ldk, const float *v, long ldv,
                                       float *out, long ldo, long seq, long hd, float scale, float *scratch, long window);

/// Whether this CPU (and OS) supports AVX-512F and FMA, which the `*_avx512` kernels below need.
int darwin_has_avx512f(void);
/// `darwin_exp_shifted_avx2` on 16 lanes (the same values; the sum adds them in another order). AVX-512 only.
double darwin_exp_shifted_avx512(const float *x, float *out, long n, float shift);
/// `darwin_swiglu_avx2` on 16 lanes (the same values). AVX-512 only.
void darwin_swiglu_avx512(float *gate, const float *up, long n);
/// `darwin_fma_peak_avx2` with 16-lane fused multiply-adds (384 FLOPs a round). AVX-512 only.
double darwin_fma_peak_avx512(long iterations);

/// RMSNorm of one row, AVX-512 only: out = w ⊙ x / sqrt(mean(x²) + eps), the mean in float64.
void darwin_rmsnorm_row_avx512(const float *x, const float *w, float *out, long n, double eps);
/// RMSNorm's backward pass for one row, AVX-512 only: dx = r·w⊙dy − x·r³·Σ(w·dy·x)/n with r = 1/sqrt(mean(x²) + eps),
/// written into dx (or added to it when `accumulate`: the residual's gradient already there); adds dy⊙x·r into the
/// float64 `dw`. `dx` may not overlap the inputs unless it is `dy` itself.
void darwin_rmsnorm_backward_row_avx512(const float *x, const float *w, const float *dy, float *dx, double *dw, long n,
                                        double eps, int accumulate);
/// SwiGLU's backward pass (a = silu(g)·u), AVX-512 only: du = da·silu(g), dg = da·u·s·(1 + g·(1 − s)) with
/// s = sigmoid(g). `da` may be `dgate` or `dup` (each element is read before it is written).
void darwin_swiglu_backward_avx512(const float *gate, const float *up, const float *da, float *dgate, float *dup, long n);

/// Query rows per block and keys per tile of `darwin_causal_attention_head_avx512`.
#define DARWIN_ATTENTION_AVX512_ROWS 12
#define DARWIN_ATTENTION_AVX512_KEY_TILE 32
/// Causal attention of one query head over `seq` positions, AVX-512 only; `hd` a multiple of 16.
/// keys: the head's keys in tiles of 32 positions, tile t at keys + t*hd*32 holding hd rows of its 32 keys (key
/// 32t + c, dimension d at keys[t*hd*32 + d*32 + c]), zero past seq; v: row j at v + j*ldv; q, out: row i at
/// q + i*ldq, out + i*ldo; scratch: 12 rows of lds >= seq rounded up to 32 floats. `window` as in the AVX2 kernel.
void darwin_causal_attention_head_avx512(const float *q, long ldq, const float *keys, const float *v, long ldv,
                                         float *out, long ldo, long seq, long hd, float scale, float *scratch, long lds,
                                         long window);

#endif
