#include "darwin_mpi.h"
#include <stdlib.h>
#include <string.h>

#ifdef DARWIN_MPI
#include <mpi.h>

static int active = 0;

int darwin_mpi_compiled(void) { return 1; }

static void finish_at_exit(void) { darwin_mpi_finish(); }

int darwin_mpi_start(void) {
    if (active) return 1;
    // Only under a launcher: a plain `darwinhost script.lua` never touches MPI.
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) return 0;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return 0;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    active = 1;
    atexit(finish_at_exit);
    return 1;
}

int darwin_mpi_active(void) { return active; }
int darwin_mpi_rank(void) { int r = 0; if (active) MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
int darwin_mpi_size(void) { int n = 1; if (active) MPI_Comm_size(MPI_COMM_WORLD, &n); return n; }
int darwin_mpi_barrier(void) { return active ? MPI_Barrier(MPI_COMM_WORLD) : 0; }

// Messages larger than INT_MAX bytes go in pieces.
static const int64_t piece = 1 << 30;

static int broadcast_bytes(char *data, int64_t length, int root) {
    for (int64_t at = 0; at < length; at += piece) {
        int n = (int)(length - at < piece ? length - at : piece);
        int rc = MPI_Bcast(data + at, n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return 0;
}

int darwin_mpi_broadcast(char **data, int64_t *length, int root) {
    if (!active) return 0;
    int rc = MPI_Bcast(length, 1, MPI_INT64_T, root, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
    if (darwin_mpi_rank() != root) {
        *data = malloc(*length > 0 ? (size_t)*length : 1);
        if (!*data) return -1;
    }
    return broadcast_bytes(*data, *length, root);
}

int darwin_mpi_allgather(const char *mine, int64_t length, char **all, int64_t *lengths) {
    int size = darwin_mpi_size(), rank = darwin_mpi_rank();
    if (!active) {
        lengths[0] = length;
        *all = malloc(length > 0 ? (size_t)length : 1);
        if (!*all) return -1;
        memcpy(*all, mine, (size_t)length);
        return 0;
    }
    int rc = MPI_Allgather(&length, 1, MPI_INT64_T, lengths, 1, MPI_INT64_T, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
    int64_t total = 0;
    for (int r = 0; r < size; r++) total += lengths[r];
    *all = malloc(total > 0 ? (size_t)total : 1);
    if (!*all) return -1;
    // One broadcast per rank: simple, and large enough pieces for what the search exchanges.
    int64_t at = 0;
    for (int r = 0; r < size; r++) {
        if (r == rank) memcpy(*all + at, mine, (size_t)length);
        rc = broadcast_bytes(*all + at, lengths[r], r);
        if (rc != 0) return rc;
        at += lengths[r];
    }
    return 0;
}

int darwin_mpi_allreduce_sum(float *data, int64_t count) {
    if (!active) return 0;
    for (int64_t at = 0; at < count; at += piece) {
        int n = (int)(count - at < piece ? count - at : piece);
        int rc = MPI_Allreduce(MPI_IN_PLACE, data + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return 0;
}

void darwin_mpi_abort(int code) { if (active) MPI_Abort(MPI_COMM_WORLD, code); }

void darwin_mpi_finish(void) {
    if (!active) return;
    active = 0;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

#else

int darwin_mpi_compiled(void) { return 0; }
int darwin_mpi_start(void) { return 0; }
int darwin_mpi_active(void) { return 0; }
int darwin_mpi_rank(void) { return 0; }
int darwin_mpi_size(void) { return 1; }
int darwin_mpi_barrier(void) { return 0; }
int darwin_mpi_broadcast(char **data, int64_t *length, int root) { (void)data; (void)length; (void)root; return 0; }
int darwin_mpi_allgather(const char *mine, int64_t length, char **all, int64_t *lengths) {
    lengths[0] = length;
    *all = malloc(length > 0 ? (size_t)length : 1);
    if (!*all) return -1;
    memcpy(*all, mine, (size_t)length);
    return 0;
}
int darwin_mpi_allreduce_sum(float *data, int64_t count) { (void)data; (void)count; return 0; }
void darwin_mpi_abort(int code) { (void)code; }
void darwin_mpi_finish(void) {}

#endif
