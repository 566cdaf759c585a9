/* cluster.h without MPI: one process. A job of several launched by mpirun or srun is refused,
 * since every copy would do the whole job and write the same files. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>

/* The job's size as the launchers tell each process they start (Open MPI's mpirun, PMI, Slurm's
 * srun; not SLURM_NTASKS, which a batch script itself sees). */
static int launched_size(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return atoi(v);
    }
    return 1;
}

int cluster_start(int *argc, char ***argv, char *err, size_t errsize) {
    (void)argc, (void)argv;
    int n = launched_size();
    if (n <= 1) return 0;
    snprintf(err, errsize, "started as one of %d processes (mpirun or srun), but this impasto was built without MPI, "
             "so each would do the whole job: build with `make MPI=1` (docs/cluster.md)", n);
    return 1;
}

int cluster_rank(void) { return 0; }
int cluster_size(void) { return 1; }
const impasto_process_group *cluster_group(void) { return NULL; }
void cluster_lockstep(int on) { (void)on; }
int cluster_finish(int rc) { return rc; }
const char *cluster_kind(void) { return "none"; }
