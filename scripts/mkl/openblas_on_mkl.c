/*
 * OpenBLAS's interface on Intel oneMKL: a libopenblas.so.0 that darwinhost loads in place of OpenBLAS when its
 * folder comes first on LD_LIBRARY_PATH (built by scripts/setup-mkl.sh). The BLAS and LAPACK routines darwinhost
 * calls (cblas_sgemm, dpotrf_, ...) have the same names and the same LP64 interface in both libraries, so they
 * resolve to MKL's through this library's dependencies; only OpenBLAS's own three extensions are written here.
 * MKL runs on GNU OpenMP threads (libmkl_gnu_thread), the threading layer that needs nothing beyond gcc's libgomp.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void MKL_Set_Num_Threads(int threads);
void MKL_Get_Version_String(char *buffer, int length);

/* "MKL 2026.2 (Intel(R) oneAPI Math Kernel Library Version 2026.2-Product Build ...)": the version first, as
 * OpenBLAS puts its own first, then MKL's description of itself. */
char *openblas_get_config(void) {
    static char config[320];
    if (config[0] == 0) {
        char description[256] = "";
        MKL_Get_Version_String(description, (int)sizeof description);
        char version[32] = "unknown";
        const char *start = strstr(description, "Version ");
        if (start != NULL) {
            start += strlen("Version ");
            size_t length = strcspn(start, "- ");
            if (length > 0 && length < sizeof version) { memcpy(version, start, length); version[length] = 0; }
        }
        snprintf(config, sizeof config, "MKL %s (%s)", version, description);
    }
    return config;
}

/* The processors this process may run on, as OpenBLAS counts them (its affinity mask, not the machine's total). */
int openblas_get_num_procs(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

/* The threads MKL's routines may use from now on (darwinhost sets 1 around its own parallel loops). */
void openblas_set_num_threads(int threads) { MKL_Set_Num_Threads(threads > 0 ? threads : 1); }
