#!/bin/sh
# examples/slurm/ on a one-node Slurm cluster that this test starts itself (munged, slurmctld and
# slurmd from Debian, every file in a scratch folder, ports chosen free) and stops at the end:
# train.sbatch trains over 2 processes with srun --mpi=pmix, is stopped by scancel --signal=INT
# with a checkpoint, and a second submission resumes it; folder.sbatch as a job array of 3 repaints
# a folder, each picture once. Needs root, Slurm, munge and build/impasto-mpi
# (tools/install-deps.sh --mpi); skipped with the reason otherwise.
. tests/cli_lib.sh
case "${IMPASTO_BUILD:-build}" in *san*)
    echo "ok slurm # SKIP a sanitizer build (Open MPI's allocations are outside what ASan can follow)"
    echo "0 passed, 0 failed"; exit 0 ;;
esac
BM=$(realpath "${IMPASTO_BUILD:-build}")/impasto-mpi
BP=$(realpath "${IMPASTO_BUILD:-build}")/impasto
M=models/vgg19.safetensors
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit; }
for p in munged slurmctld slurmd sbatch srun; do
    command -v $p >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v $p >/dev/null 2>&1 ||
        { skip "slurm" "no $p (tools/install-deps.sh --mpi)"; finish; }
done
PATH=$PATH:/usr/sbin
[ "$(id -u)" -eq 0 ] || { skip "slurm" "the test cluster runs its daemons as root"; finish; }
[ -x "$BM" ] || { skip "slurm" "no $BM (make, with Open MPI installed)"; finish; }
[ -f $M ] || { skip "slurm" "no $M (make models)"; finish; }
export ASAN_OPTIONS=detect_leaks=0

# The cluster: munge's key and socket, Slurm's state, spool, logs and ports, all under $T.
S="$T/slurm"
mkdir -p "$S/munge" "$S/state" "$S/spool" "$S/log"
chmod 700 "$S/munge"
head -c 1024 /dev/urandom >"$S/munge/munge.key"
chmod 400 "$S/munge/munge.key"
stop_cluster() {
    # every job of this cluster ended (slurmstepd outlives slurmd), then the daemons
    scancel --user=root --signal=KILL 2>/dev/null
    for k in $(seq 1 100); do squeue -h 2>/dev/null | grep -q . || break; sleep 0.2; done
    pkill -9 -f "$T/" 2>/dev/null
    for f in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/munge/munged.pid"; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 1
    rm -rf "$T"
}
trap stop_cluster EXIT
munged --key-file="$S/munge/munge.key" --socket="$S/munge/munge.sock" --pid-file="$S/munge/munged.pid" \
    --log-file="$S/munge/munged.log" --seed-file="$S/munge/seed" --force 2>"$T/err" ||
    { skip "slurm" "munged did not start: $(head -1 "$T/err")"; finish; }
ports=$($PY -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
set -- $ports
H=$(hostname -s)
export SLURM_CONF="$S/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=impastotest
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmctldPort=$1
SlurmdPort=$2
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/munge.sock
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$H Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
slurmctld -i -f "$SLURM_CONF" 2>"$T/err" && slurmd -f "$SLURM_CONF" 2>>"$T/err" ||
    { skip "slurm" "the daemons did not start: $(head -1 "$T/err")"; finish; }
for k in $(seq 1 100); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.2; done
sinfo -h -o %t 2>/dev/null | grep -q idle || { skip "slurm" "the node did not come up ($(sinfo -h -o %t 2>&1))"; finish; }
# The first PMIx step after slurmd starts can fail to set up (seen here: pmixp_stepd_init); later
# ones do not. A trivial step first, tried up to three times.
for k in 1 2 3; do srun --mpi=pmix -n 2 true >"$T/out" 2>&1 && break; sleep 1; done
ok "slurm: a one-node cluster is up"

# train.sbatch over 2 processes (srun --mpi=pmix), a long run stopped by Slurm's signal, then resumed.
mkdir -p "$T/photos" "$T/run"
i=0
for f in examples/images/*.jpg; do i=$((i + 1)); cp "$f" "$T/photos/$i.jpg"; done
export STYLE=$(realpath examples/images/scream.jpg) PHOTOS="$T/photos" OUT="$T/run/m.safetensors" BATCH=2 \
    IMAGE_SIZE=32 CKPT_EVERY=100000 IMPASTO="$BM" EXTRA="--threads 1 --print-every 1 -m $(realpath $M)"
# a run long enough to be stopped (Slurm's own limit, 10 minutes, bounds it whatever happens)
STEPS=100000 sbatch --parsable --time=10 -n 2 --ntasks-per-node=2 -D "$T/run" -o "$T/run/train1.out" examples/slurm/train.sbatch >"$T/jobid" 2>"$T/err"
job=$(cat "$T/jobid")
[ -n "$job" ] || { bad "slurm: sbatch train.sbatch"; finish; }
# once it trains (its first step is logged; a busy machine may take minutes to get there)
for k in $(seq 1 3000); do
    grep -q "^step 1/" "$T/run/train1.out" 2>/dev/null && break
    squeue -h -j "$job" 2>/dev/null | grep -q . || break
    sleep 0.2
done
# as --signal=INT@600 in the script does near the time limit: SIGINT to the job's processes
scancel --signal=INT "$job"
for k in $(seq 1 600); do squeue -h -j "$job" 2>/dev/null | grep -q . || break; sleep 0.2; done
if grep -q "training cancelled at step" "$T/run/train1.out" && grep -q "sbatch this script again" "$T/run/train1.out"; then
    ok "slurm: train.sbatch stops with a checkpoint on Slurm's SIGINT"
else bad "slurm: train.sbatch stops with a checkpoint on Slurm's SIGINT"; sed 's/^/    /' "$T/run/train1.out" | tail -8
     tail -5 "$S/log/slurmd.log"; fi
last=$(ls "$T/run/m-checkpoints"/ckpt_step_*.safetensors | sort -t_ -k3 -n | tail -1)
n=${last##*_step_}; n=${n%.safetensors}
STEPS=$((n + 2)) sbatch --wait -n 2 --ntasks-per-node=2 -D "$T/run" -o "$T/run/train2.out" examples/slurm/train.sbatch >/dev/null 2>"$T/err"
if [ $? -eq 0 ] && grep -q "resuming from $last" "$T/run/train2.out" && [ -s "$T/run/m.safetensors" ] &&
   grep -a -q '"train_processes":"2"' "$T/run/m.safetensors"; then ok "slurm: a second submission resumes and finishes"
else bad "slurm: a second submission resumes and finishes"; sed 's/^/    /' "$T/run/train2.out" | tail -8; fi

# folder.sbatch as an array of 3 tasks over the photos (one unreadable): each good picture once.
head -c 200 examples/images/horses.jpg >"$T/photos/0-broken.jpg"
IN="$T/photos" OUT="$T/painted" METHOD="fast -m $(realpath models/candy.safetensors)" IMPASTO="$BP" EXTRA="--threads 1 --content-scale 8" \
    sbatch --wait --array=0-2 -D "$T/run" -o "$T/run/folder-%a.out" examples/slurm/folder.sbatch >/dev/null 2>"$T/err"
rc=$?
nin=$(ls "$T/photos" | wc -l); nout=$(ls "$T/painted" 2>/dev/null | wc -l)
if [ $rc -ne 0 ] && [ "$nout" -eq $((nin - 1)) ] && [ "$(cat "$T/run"/folder-*.out | grep -c 0-broken.jpg)" -eq 1 ]; then
    ok "slurm: folder.sbatch's array paints each picture once, the broken one reported by its task"
else bad "slurm: folder.sbatch's array (sbatch exit $rc, $nout of $((nin - 1)))"; cat "$T/run"/folder-*.out | head; fi
finish
