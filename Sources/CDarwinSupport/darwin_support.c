#define _GNU_SOURCE
#include "darwin_support.h"
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

static volatile sig_atomic_t interrupt_flag = 0;
void darwin_interrupt_request(void) { interrupt_flag = 1; }
int darwin_interrupt_pending(void) { return interrupt_flag != 0; }
void darwin_interrupt_clear(void) { interrupt_flag = 0; }

static void prompt_interrupt(int sig) { (void)sig; interrupt_flag = 1; }

void darwin_unblock_sigint(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* While a prompt waits for a line, Ctrl-C only sets the flag; without SA_RESTART the blocked read returns EINTR,
   so line editing gives up the line instead of the process ending. */
void darwin_prompt_interrupt_begin(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = prompt_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    darwin_unblock_sigint();
}

void darwin_prompt_interrupt_end(void) { signal(SIGINT, SIG_DFL); }

/* Free memory at the top of the heap beyond this goes back to the system on its own (when no hold is in place). */
static const int trim_threshold = 512 << 20;

void darwin_tune_malloc(void) {
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
#endif
}

void darwin_keep_freed_heap(int keep) {
#ifdef M_MMAP_THRESHOLD
    mallopt(M_TRIM_THRESHOLD, keep ? INT_MAX : trim_threshold);
    if (!keep) malloc_trim(0);
#else
    (void)keep;
#endif
}

static _Thread_local int in_parallel_worker;

int darwin_in_parallel_worker(void) { return in_parallel_worker; }

int darwin_set_parallel_worker(int worker) {
    int previous = in_parallel_worker;
    in_parallel_worker = worker;
    return previous;
}

void darwin_release_free_heap(void) {
#ifdef M_MMAP_THRESHOLD
    malloc_trim(0);
#endif
}

void darwin_advise_huge_pages(void *p, long bytes) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1), end = ((uintptr_t)p + (uintptr_t)bytes) & ~(huge - 1);
    if (bytes > 0 && end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p; (void)bytes;
#endif
}

int darwin_exchange_paths(const char *a, const char *b) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
#else
    (void)a; (void)b;
    return -1;
#endif
}
