/* cluster.h over MPI (built with make MPI=1): MPI_Init when launched by mpirun or srun, the
 * group's sums by MPI_Allreduce, MPI_Abort when a process fails while the others wait for it. */
#include "cluster.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static struct {
    int joined, rank, size, lockstep;
    impasto_process_group group;
    char kind[160];
} job = {.size = 1};

/* Launched by a job starter (Open MPI, PMI/PMIx, Slurm)? A plain `impasto` does not initialise MPI at
 * all: a singleton MPI_Init can be slow or fail where no launcher runs. */
static int launched(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

/* impasto_process_group.sum: in place over MPI_COMM_WORLD, in chunks below INT_MAX elements. */
static int sum(void *user, void *buf, size_t n, int is_double) {
    (void)user;
    const size_t chunk = (size_t)1 << 30, esize = is_double ? sizeof(double) : sizeof(float);
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        if (MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * esize, (int)k, is_double ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM,
                          MPI_COMM_WORLD) != MPI_SUCCESS)
            return 1;
    }
    return 0;
}

int cluster_start(int *argc, char ***argv, char *err, size_t errsize) {
    if (!launched()) return 0;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        snprintf(err, errsize, "MPI_Init failed: cannot join the job");
        return 1;
    }
    job.joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &job.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &job.size);
    /* srun without an MPI plugin starts its tasks as separate jobs of one: each would do it all. */
    const char *tasks = getenv("SLURM_STEP_NUM_TASKS");
    if (job.size == 1 && tasks && atoi(tasks) > 1) {
        snprintf(err, errsize, "srun started %s tasks but MPI sees each alone: run `srun --mpi=pmix` (or mpirun "
                 "inside the allocation)", tasks);
        MPI_Finalize();
        job.joined = 0;
        return 1;
    }
    /* Errors come back as codes: the library turns a failed sum into a message. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    job.group = (impasto_process_group){.rank = job.rank, .size = job.size, .sum = sum};
    return 0;
}

int cluster_rank(void) { return job.rank; }
int cluster_size(void) { return job.size; }
const impasto_process_group *cluster_group(void) { return job.size > 1 ? &job.group : NULL; }
void cluster_lockstep(int on) { job.lockstep = on; }

int cluster_finish(int rc) {
    if (!job.joined) return rc;
    if (rc != 0 && job.lockstep && job.size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    MPI_Finalize();
    return rc;
}

const char *cluster_kind(void) {
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    for (int i = 0; i < len; i++)
        if (lib[i] == ',' || lib[i] == '\n') {
            lib[i] = 0;
            break;
        }
    snprintf(job.kind, sizeof job.kind, "MPI (%.140s)", lib);
    return job.kind;
}
