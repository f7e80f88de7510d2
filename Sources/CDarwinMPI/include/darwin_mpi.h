// darwinhost's use of MPI: a few collectives on byte strings and float arrays. Built against Open MPI when
// pkg-config finds `ompi` at build time (DARWIN_MPI), otherwise as a single process (rank 0 of 1).
#ifndef DARWIN_MPI_H
#define DARWIN_MPI_H
#include <stdint.h>

/// 1 when this build has MPI.
int darwin_mpi_compiled(void);
/// Initializes MPI when the process was started by mpirun (its environment says so); returns 1 when MPI is in use.
int darwin_mpi_start(void);
/// 1 when MPI is in use (started and not finished).
int darwin_mpi_active(void);
int darwin_mpi_rank(void);
int darwin_mpi_size(void);
/// 0 on success, otherwise an MPI error code (the same for the functions below).
int darwin_mpi_barrier(void);
/// `root`'s bytes on every rank: `*data` / `*length` are root's input and every other rank's output (malloc'd).
int darwin_mpi_broadcast(char **data, int64_t *length, int root);
/// Every rank's bytes on every rank, in rank order: `*all` (malloc'd, concatenated), `lengths` (size entries).
int darwin_mpi_allgather(const char *mine, int64_t length, char **all, int64_t *lengths);
/// Sums `count` floats across the ranks, in place on every rank.
int darwin_mpi_allreduce_sum(float *data, int64_t count);
/// Ends every rank of the job (an error on one rank must not leave the others waiting in a collective).
void darwin_mpi_abort(int code);
/// Finishes MPI (also run at exit).
void darwin_mpi_finish(void);

#endif
