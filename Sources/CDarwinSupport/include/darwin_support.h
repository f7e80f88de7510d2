/// Small C helpers for DarwinCore that Swift cannot express directly.
#ifndef DARWIN_SUPPORT_H
#define DARWIN_SUPPORT_H

/// Keeps freed tensor memory in the process heap instead of returning it to the kernel on every free
/// (glibc `mallopt`: mmap threshold 32 MiB, trim threshold 512 MiB). Without it each new output tensor
/// page-faults its memory in again, which made a fresh 16 MB add 7x slower than the add itself.
void darwin_tune_malloc(void);

/// LAPACK (exported by libopenblas): Cholesky factorisation and inverse from it, column-major, float64.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

#endif
