#!/bin/sh
# Clusters (docs/cluster.md): `mpirun -np N impasto-mpi train` gives the model one process gives,
# up to float summation order, for N = 1, 2, 4 with the same global batch; a checkpoint says how it
# was made and resumes with another N; Ctrl-C (SIGINT to the processes) stops every process after
# the same step with a checkpoint; a killed process ends the job with the last checkpoint intact;
# folders are shared out picture by picture, a bad picture on one process reported while the others
# go on; commands that cannot share their work refuse. Needs Open MPI (tools/install-deps.sh --mpi)
# and build/impasto-mpi (made by `make` where mpicc is installed); skipped otherwise.
. tests/cli_lib.sh
M=models/vgg19.safetensors
S=examples/images/scream.jpg
C=examples/images/horses.jpg
BM=${IMPASTO_BUILD:-build}/impasto-mpi
case "$B" in *san*)
    # Open MPI's own allocations and shared-memory transport are outside what ASan can follow.
    echo "ok mpi # SKIP $B is a sanitizer build"; echo "0 passed, 0 failed"; exit 0 ;;
esac

# The one-process build refuses a job of several, whose processes would each do everything.
expect "mpi: a build without MPI refuses a job" 1 "built without MPI" -- env OMPI_COMM_WORLD_SIZE=2 "$B" version

if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$BM" ]; then
    skip "mpi: runs under mpirun" "no mpirun or no $BM (tools/install-deps.sh --mpi, then make)"
    echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit
fi
if [ ! -f $M ]; then
    skip "mpi: runs under mpirun" "no $M (make models)"
    echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit
fi
# Every process on one thread: N processes share this machine's cores. The sanitizer build's
# leak check would report Open MPI's own allocations at exit.
RUN="mpirun --allow-run-as-root --oversubscribe --quiet -x OMP_NUM_THREADS=1 -x ASAN_OPTIONS=detect_leaks=0"
export ASAN_OPTIONS=detect_leaks=0
mkdir -p "$T/p"
i=0
for f in $C $S examples/images/*.jpg; do i=$((i + 1)); cp "$f" "$T/p/$i.jpg"; done
TRAIN="train -s $S -d $T/p --image-size 32 --batch-size 4 --steps 3 --seed 7 --threads 1 -q"

# Same weights for any N: compared by what they paint (a parameter whose true gradient is zero,
# such as a bias before an instance norm, takes Adam steps of float noise, so raw weights can
# differ by up to lr per step there while the network's output does not).
"$B" $TRAIN -o "$T/m1.safetensors" >"$T/out" 2>"$T/err" || bad "mpi: one process trains"
"$B" fast -m "$T/m1.safetensors" -c $C -o "$T/f1.png" --threads 1 -q
for n in 1 2 4; do
    $RUN -np $n "$BM" $TRAIN -o "$T/m$n-mpi.safetensors" >"$T/out" 2>"$T/err"
    if [ $? -ne 0 ] || [ ! -s "$T/m$n-mpi.safetensors" ]; then bad "mpi: -np $n trains"; continue; fi
    "$B" fast -m "$T/m$n-mpi.safetensors" -c $C -o "$T/f$n.png" --threads 1 -q
    psnr=$("$B" compare --json "$T/f1.png" "$T/f$n.png" | sed -n 's/.*"psnr": *\([^,}]*\).*/\1/p')
    # null: identical pictures
    if [ "$psnr" = null ] || awk "BEGIN { exit !($psnr >= 50) }"; then ok "mpi: -np $n paints as one process does (PSNR $psnr dB >= 50)"
    else bad "mpi: -np $n paints as one process does (PSNR $psnr dB, wanted >= 50)"; fi
done
grep -a -q '"train_processes":"4"' "$T/m4-mpi.safetensors" && ok "mpi: the model records its 4 processes" \
    || bad "mpi: the model records its 4 processes"

# --json: one line per process saying what it did (each of 2 processes: 2 photos of each batch of 4).
$RUN -np 2 "$BM" $TRAIN -o "$T/j.safetensors" --json >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(grep -c '"processes":2' "$T/out")" -eq 2 ] && grep -q '"rank":1' "$T/out" &&
   [ "$(grep -c '"images":6' "$T/out")" -eq 2 ]; then ok "mpi: --json reports per process"
else bad "mpi: --json reports per process"; fi

# A checkpoint made by 2 processes resumes with 1 and with 4: the same run.
mkdir -p "$T/ck"
$RUN -np 2 "$BM" train -s $S -d "$T/p" --image-size 32 --batch-size 4 --steps 2 --seed 7 --threads 1 -q \
    -o "$T/half.safetensors" --checkpoint-every 2 --checkpoint-dir "$T/ck" >"$T/out" 2>"$T/err"
for n in 1 4; do
    if [ $n -eq 1 ]; then R="$B"; else R="$RUN -np $n $BM"; fi
    $R $TRAIN -o "$T/r$n.safetensors" --resume "$T/ck/ckpt_step_2.safetensors" >"$T/out" 2>"$T/err"
    "$B" fast -m "$T/r$n.safetensors" -c $C -o "$T/r$n.png" --threads 1 -q 2>>"$T/err"
    psnr=$("$B" compare --json "$T/f1.png" "$T/r$n.png" 2>>"$T/err" | sed -n 's/.*"psnr": *\([^,}]*\).*/\1/p')
    if [ -n "$psnr" ] && { [ "$psnr" = null ] || awk "BEGIN { exit !($psnr >= 50) }"; }; then
        ok "mpi: 2 processes' checkpoint resumed by $n (PSNR $psnr dB)"
    else bad "mpi: 2 processes' checkpoint resumed by $n (PSNR '$psnr')"; fi
done

# More processes than photos in a batch: one line, before any work.
EXPECT_LINES=3 expect "mpi: more processes than the batch" 2 "batch size of at least 4" -- \
    $RUN -np 4 "$BM" train -s $S -d "$T/p" --image-size 32 --batch-size 2 --steps 1 --threads 1 -q -o "$T/x.safetensors"

# Ctrl-C reaches the processes (a terminal sends it to all of them): every one stops after the
# same step, process 0 writes the checkpoint, the job exits 130.
rm -rf "$T/ck2"; mkdir "$T/ck2"
( $RUN -np 2 "$BM" train -s $S -d "$T/p" --image-size 32 --batch-size 2 --steps 40 --threads 1 -q \
      -o "$T/int.safetensors" --checkpoint-dir "$T/ck2" --checkpoint-every 1 </dev/null >"$T/out" 2>"$T/err"
  echo $? >"$T/rc" ) &
# once training runs (its first checkpoint is written)
for k in $(seq 1 600); do ls "$T/ck2"/ckpt_step_1.safetensors >/dev/null 2>&1 && break; sleep 0.2; done
pkill -INT -x impasto-mpi
wait
if [ "$(cat "$T/rc")" = 130 ] && ls "$T/ck2"/ckpt_step_*.safetensors >/dev/null 2>&1 && [ ! -e "$T/int.safetensors" ] &&
   grep -q "training cancelled at step" "$T/err"; then ok "mpi: Ctrl-C stops every process with a checkpoint"
else bad "mpi: Ctrl-C stops every process with a checkpoint (exit $(cat "$T/rc"))"; cat "$T/err"; ls "$T/ck2" "$T"; fi

# A process killed outright: the job ends (non-zero), the checkpoints written before are whole.
rm -rf "$T/ck3"; mkdir "$T/ck3"
( $RUN -np 2 "$BM" train -s $S -d "$T/p" --image-size 32 --batch-size 2 --steps 40 --threads 1 -q \
      -o "$T/kill.safetensors" --checkpoint-dir "$T/ck3" --checkpoint-every 1 </dev/null >"$T/out" 2>"$T/err"
  echo $? >"$T/rc" ) &
for k in $(seq 1 600); do ls "$T/ck3"/ckpt_step_2.safetensors >/dev/null 2>&1 && break; sleep 0.2; done
pkill -KILL -n -x impasto-mpi
wait
last=$(ls "$T/ck3"/ckpt_step_*.safetensors 2>/dev/null | sort -t_ -k3 -n | tail -1)
if [ "$(cat "$T/rc")" != 0 ] && [ -n "$last" ] && "$B" fast -m "$last" -c $C -o "$T/k.png" --threads 1 -q 2>"$T/err"; then
    ok "mpi: a killed process ends the job, the last checkpoint loads"
else bad "mpi: a killed process ends the job, the last checkpoint loads (exit $(cat "$T/rc"), last '$last')"; fi

# Folders: each picture made once, by one of the processes; a bad picture reported by its process,
# the others go on; the job exits 1.
mkdir -p "$T/in"
i=0
for f in $C $S examples/images/*.jpg; do i=$((i + 1)); cp "$f" "$T/in/$i.jpg"; done
head -c 300 $C >"$T/in/broken.jpg"
$RUN -np 2 "$BM" fast -m candy -c "$T/in" -o "$T/outdir" --content-scale 8 --threads 1 --json >"$T/out" 2>"$T/err"
rc=$?
nin=$(ls "$T/in" | wc -l); nout=$(ls "$T/outdir" 2>/dev/null | wc -l)
if [ $rc -eq 1 ] && [ "$nout" -eq $((nin - 1)) ] && [ "$(grep -c broken.jpg "$T/err")" -eq 1 ] &&
   [ "$(grep -o '"path"' "$T/out" | wc -l)" -eq $((nin - 1)) ]; then ok "mpi: a folder shared over 2 processes"
else bad "mpi: a folder shared over 2 processes (exit $rc, $nout of $((nin - 1)))"; fi

# What cannot be shared refuses, with one line from the first process.
EXPECT_LINES=3 expect "mpi: one picture is not shared" 2 "give a folder" -- \
    $RUN -np 2 "$BM" fast -m candy -c $C -o "$T/one.png" --threads 1
EXPECT_LINES=3 expect "mpi: transfer runs as one process" 2 "runs as one process" -- \
    $RUN -np 2 "$BM" transfer -c $C -s $S -o "$T/t.png"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
