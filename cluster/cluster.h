/* impasto's processes in a cluster job (issue: training and batches over MPI and Slurm). The CLI
 * starts here: under mpirun or srun, in a build with MPI (make MPI=1), the processes of the job
 * find each other through MPI and each learns its rank; anywhere else impasto is one process of
 * one. This folder is the only code that knows MPI; the library sees only an
 * impasto_process_group (include/impasto.h), whose sum this provides. */
#ifndef IMPASTO_CLUSTER_H
#define IMPASTO_CLUSTER_H

#include "impasto.h"

#include <stddef.h>

/* Joins the job, if launched as part of one. Returns 0, or non-zero with the reason in err (a job
 * of several processes started with a build without MPI: each would do all the work). */
int cluster_start(int *argc, char ***argv, char *err, size_t errsize);
/* This process's rank and the number of processes (0 and 1 alone). */
int cluster_rank(void);
int cluster_size(void);
/* The group the library's training sums over; NULL alone. */
const impasto_process_group *cluster_group(void);
/* While on: the processes wait for each other (training), so a process that fails takes the
 * whole job down with it (MPI_Abort) instead of leaving the others waiting. */
void cluster_lockstep(int on);
/* Leaves the job (MPI_Finalize, or MPI_Abort with rc after a failure in lockstep); returns rc. */
int cluster_finish(int rc);
/* "MPI (Open MPI v4.1.4, ...)" or "none" — what this build can join. */
const char *cluster_kind(void);

#endif
