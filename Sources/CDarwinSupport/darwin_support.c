#define _GNU_SOURCE
#include "darwin_support.h"
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>
#include <signal.h>

static volatile sig_atomic_t interrupt_flag = 0;
void darwin_interrupt_request(void) { interrupt_flag = 1; }
int darwin_interrupt_pending(void) { return interrupt_flag != 0; }
void darwin_interrupt_clear(void) { interrupt_flag = 0; }

void darwin_tune_malloc(void) {
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
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
