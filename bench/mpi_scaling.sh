#!/bin/sh
# Time per training step against the number of MPI processes on this machine (docs/cluster.md):
# `mpirun -np N build/impasto-mpi train` for N = 1, 2, 4 with one global batch, each process on
# THREADS threads (default 1), and the seconds each spends in the gradient sums. The process that
# waits least in the sums spent that time on the sums themselves (the others also wait for the
# slowest), so its figure is the allreduce's cost. Usage: sh bench/mpi_scaling.sh [SIZE [BATCH [STEPS]]]
set -eu
SIZE=${1:-128}; BATCH=${2:-4}; STEPS=${3:-6}; THREADS=${THREADS:-1}
BM=${IMPASTO_BUILD:-build}/impasto-mpi
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
mkdir "$D/p"; i=0
for f in ${PHOTOS:-data/train}/*.jpg; do i=$((i + 1)); cp "$f" "$D/p/"; [ $i -ge 16 ] && break; done
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset};" \
     "load before: $(cut -d' ' -f1 /proc/loadavg)"
echo "train at ${SIZE}px, global batch $BATCH, $STEPS steps, $THREADS thread(s) per process"
printf '%-6s %12s %14s %14s\n' procs "s/step" "sum s/step" "images/s"
for n in 1 2 4; do
    [ $n -le "$BATCH" ] || continue
    mpirun --allow-run-as-root --oversubscribe --quiet -np $n -x OMP_NUM_THREADS=$THREADS "$BM" train \
        -s examples/images/scream.jpg -d "$D/p" -o "$D/m.safetensors" --image-size "$SIZE" --batch-size "$BATCH" \
        --steps "$STEPS" --threads "$THREADS" --json -q >"$D/j" 2>"$D/e" || { cat "$D/e"; exit 1; }
    /usr/bin/python3 - "$D/j" "$n" "$STEPS" "$BATCH" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
try:
    rows = [json.loads(text)]  # one process: one (pretty-printed) report
except ValueError:
    rows = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
n, steps, batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
secs = max(r["seconds"] for r in rows)
sums = min(r.get("sum_seconds", 0.0) for r in rows)
print(f"{n:<6d} {secs / steps:12.3f} {sums / steps:14.4f} {steps * batch / secs:14.2f}")
PY
done
