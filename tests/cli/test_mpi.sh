#!/bin/sh
# Clusters (docs/cluster.md): `mpirun -np N impasto-mpi train` gives the model one process gives,
# up to float summation order, for N = 1, 2, 4 with the same global batch; a checkpoint says how it
# was made and resumes with another N; Ctrl-C (SIGINT to the processes) stops every process after
# the same step with a checkpoint; a killed process ends the job with the last checkpoint intact;
# folders are shared out picture by picture, a bad picture on one process reported while the others
# go on; commands that cannot share their work refuse. `gan train` (CycleGAN with its history pool,
# pix2pix with batch norm) likewise: the same model for N = 1, 2, 4, checkpoints resumed with another
# N, Ctrl-C and a killed process. `video` in chunks: every frame within one 8-bit level of one
# process's (the seams included), the frame count, timing and audio kept, Ctrl-C keeping the frames
# done. Needs Open MPI (tools/install-deps.sh --mpi) and build/impasto-mpi (made by `make` where
# mpicc is installed); skipped otherwise (the video part also without FFmpeg or Megamind.avi).
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

# ---- gan train: CycleGAN and pix2pix data parallel ----
# The same seed and global batch give the same model for any N (history pools on, pix2pix with its
# batch norms and dropout): compared by what the models translate, PSNR >= 50 dB (measured:
# identical pictures or above 100 dB).
mkdir -p "$T/ga" "$T/gb" "$T/gp"
for c in 40 48; do
    "$B" grid -o "$T/ga/h$c.png" --cell $c --gap 0 --crop $C 2>/dev/null
    "$B" grid -o "$T/ga/s$c.png" --cell $c --gap 0 $S 2>/dev/null
    "$B" grid -o "$T/gb/s$c.png" --cell $c --gap 0 --crop $S 2>/dev/null
    "$B" grid -o "$T/gp/p$c.png" --cell $c --gap 0 --crop $C $S 2>/dev/null
    "$B" grid -o "$T/gp/q$c.png" --cell $c --gap 0 --crop $S $C 2>/dev/null
done
GTINY="--ngf 4 --ndf 4 --size 32 --threads 1 -q --seed 5 --batch-size 4 --pool-size 3"
GCYC="gan train -a $T/ga -b $T/gb --generator resnet_1blocks $GTINY"
GP2P="gan train --model pix2pix -a $T/gp --generator unet_32 $GTINY"
# same_as REF N NAME MODEL: the model translates C as REF's did (PSNR >= 50 dB)
same_as() {
    "$B" translate -m "$4" -c $C -o "$T/tr.png" --size 64 -q 2>>"$T/err"
    psnr=$("$B" compare --json "$1" "$T/tr.png" 2>>"$T/err" | sed -n 's/.*"psnr": *\([^,}]*\).*/\1/p')
    if [ -n "$psnr" ] && { [ "$psnr" = null ] || awk "BEGIN { exit !($psnr >= 50) }"; }; then
        ok "mpi: $3 with -np $2 translates as one process does (PSNR $psnr dB >= 50)"
    else bad "mpi: $3 with -np $2 translates as one process does (PSNR '$psnr', wanted >= 50)"; fi
}
for g in cyclegan pix2pix; do
    if [ $g = cyclegan ]; then G=$GCYC; else G=$GP2P; fi
    "$B" $G --steps 3 -o "$T/$g.safetensors" >"$T/out" 2>"$T/err" || bad "mpi: one process trains a $g"
    "$B" translate -m "$T/$g.safetensors" -c $C -o "$T/$g.png" --size 64 -q
    for n in 1 2 4; do
        $RUN -np $n "$BM" $G --steps 3 -o "$T/$g$n.safetensors" >"$T/out" 2>"$T/err"
        if [ $? -ne 0 ] || [ ! -s "$T/$g$n.safetensors" ]; then bad "mpi: -np $n trains a $g"; cat "$T/err"; continue; fi
        same_as "$T/$g.png" $n $g "$T/$g$n.safetensors"
    done
done
grep -a -q '"processes":"4"' "$T/pix2pix4.safetensors" && grep -a -q '"batch_size":"4"' "$T/pix2pix4.safetensors" &&
    ok "mpi: the GAN model records its 4 processes and batch" || bad "mpi: the GAN model records its 4 processes and batch"
[ "$(ls "$T"/cyclegan2_losses.csv "$T"/cyclegan4_losses.csv | wc -l)" -eq 2 ] &&
    [ "$(wc -l <"$T/cyclegan4_losses.csv")" -eq 4 ] && ok "mpi: one losses CSV, one row a step" ||
    bad "mpi: one losses CSV, one row a step"

# --json: one line per process, each 2 of every batch of 4 over 3 steps.
$RUN -np 2 "$BM" $GCYC --steps 3 -o "$T/gj.safetensors" --json >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(grep -c '"processes":2' "$T/out")" -eq 2 ] && grep -q '"rank":1' "$T/out" &&
   [ "$(grep -c '"images":6' "$T/out")" -eq 2 ]; then ok "mpi: gan train --json reports per process"
else bad "mpi: gan train --json reports per process"; cat "$T/out"; fi

# A checkpoint of 2 processes resumes with 1 and with 4: the run one process makes unbroken.
rm -rf "$T/gck"; mkdir "$T/gck"
$RUN -np 2 "$BM" $GCYC --steps 3 -o "$T/gh.safetensors" --checkpoint-every 2 --checkpoint-dir "$T/gck" >"$T/out" 2>"$T/err"
for n in 1 4; do
    if [ $n -eq 1 ]; then R="$B"; else R="$RUN -np $n $BM"; fi
    $R $GCYC --steps 3 -o "$T/gr$n.safetensors" --resume "$T/gck/gan_step_2.safetensors" >"$T/out" 2>"$T/err"
    same_as "$T/cyclegan.png" "2 then $n" "a cyclegan checkpoint" "$T/gr$n.safetensors"
done
EXPECT_LINES=3 expect "mpi: a GAN checkpoint resumes with its batch size only" 2 "resume it with --batch-size 4" -- \
    $RUN -np 2 "$BM" $GCYC --batch-size 2 --steps 3 -o "$T/gx.safetensors" --resume "$T/gck/gan_step_2.safetensors"
EXPECT_LINES=3 expect "mpi: more GAN processes than the batch" 2 "batch size of at least 4" -- \
    $RUN -np 4 "$BM" $GCYC --batch-size 2 --steps 1 -o "$T/gx.safetensors"
[ ! -e "$T/gx.safetensors" ] && ok "mpi: refused GAN runs write no model" || bad "mpi: refused GAN runs write no model"

# Ctrl-C to the processes: all stop after the same step, process 0 writes the checkpoint, exit 130.
rm -rf "$T/gck2"; mkdir "$T/gck2"
( $RUN -np 2 "$BM" $GCYC --batch-size 2 --steps 100000 -o "$T/gint.safetensors" --checkpoint-dir "$T/gck2" \
      --checkpoint-every 1 </dev/null >"$T/out" 2>"$T/err"
  echo $? >"$T/rc" ) &
for k in $(seq 1 600); do ls "$T/gck2"/gan_step_2.safetensors >/dev/null 2>&1 && break; sleep 0.2; done
pkill -INT -x impasto-mpi
wait
if [ "$(cat "$T/rc")" = 130 ] && [ ! -e "$T/gint.safetensors" ] && [ "$(grep -c . "$T/err")" -eq 1 ] &&
   ck=$(sed -n 's/.*cancelled after step [0-9]*; checkpoint \(.*\)$/\1/p' "$T/err") && [ -s "$ck" ]; then
    ok "mpi: Ctrl-C stops every GAN process with a checkpoint"
else bad "mpi: Ctrl-C stops every GAN process with a checkpoint (exit $(cat "$T/rc"))"; cat "$T/err"; fi

# A GAN process killed outright: the job ends (non-zero), the last checkpoint is whole and resumes.
rm -rf "$T/gck3"; mkdir "$T/gck3"
( $RUN -np 2 "$BM" $GCYC --batch-size 2 --steps 100000 -o "$T/gkill.safetensors" --checkpoint-dir "$T/gck3" \
      --checkpoint-every 1 </dev/null >"$T/out" 2>"$T/err"
  echo $? >"$T/rc" ) &
for k in $(seq 1 600); do ls "$T/gck3"/gan_step_3.safetensors >/dev/null 2>&1 && break; sleep 0.2; done
pkill -KILL -n -x impasto-mpi
wait
last=$(ls "$T/gck3" | sed -n 's/^gan_step_\([0-9]*\)\.safetensors$/\1/p' | sort -n | tail -1)
if [ "$(cat "$T/rc")" != 0 ] && [ -n "$last" ] &&
   "$B" $GCYC --batch-size 2 --steps $((last + 1)) -o "$T/gk.safetensors" --resume "$T/gck3/gan_step_$last.safetensors" \
       >"$T/out" 2>"$T/err" && [ -s "$T/gk.safetensors" ]; then
    ok "mpi: a killed GAN process ends the job, the last checkpoint resumes"
else bad "mpi: a killed GAN process ends the job, the last checkpoint resumes (exit $(cat "$T/rc"), last '$last')"; cat "$T/err"; fi

# ---- video: a chunk of the frames per process, process 0 encodes ----
MM=/usr/share/doc/opencv-doc/examples/data/Megamind.avi   # 720x528, 24 fps, with a sound track
PY=/usr/bin/python3
vinfo() { "$B" video --info --json -c "$1" 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); print(' '.join(str(d[k]) for k in sys.argv[1:]))" $2; }
werr() { "$B" eval --temporal "$1" --reference "$T/vref.mp4" --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); print(d['warping_error'] if sys.argv[1] == 'all' else d['per_pair'][int(sys.argv[1])])" $2; }
if [ "$("$B" video --method none -c x 2>&1 | grep -c 'without video support')" -ne 0 ]; then
    skip "mpi: video" "built without FFmpeg's libraries"
elif [ ! -f $MM ] || [ ! -f models/candy.safetensors ]; then
    skip "mpi: video" "no $MM (tools/install-deps.sh --video) or no models/candy.safetensors (make models)"
else
    VID="video -c $MM -m candy --frames 40 --size 96 --threads 1 -q"
    # Frames to a folder (lossless PNG): every frame, the seam's first included, within what the
    # warm-up guarantees (the previous chunk's influence below half an 8-bit level, so at most one
    # level per pixel after rounding: PSNR >= 48.1 dB; without the warm-up the seam frame differs
    # by the whole temporal blend).
    "$B" $VID -o "$T/v1/" >"$T/out" 2>"$T/err"
    $RUN -np 2 "$BM" $VID -o "$T/v2/" --json >"$T/out" 2>"$T/err"
    rc=$?
    worst=100; n=0
    for f in "$T"/v1/*.png; do
        n=$((n + 1))
        p=$("$B" compare --json "$f" "$T/v2/$(basename "$f")" 2>/dev/null | sed -n 's/.*"psnr": *\([^,}]*\).*/\1/p')
        [ "$p" = null ] && p=100
        [ -z "$p" ] && p=0
        worst=$(awk "BEGIN { print ($p < $worst) ? $p : $worst }")
    done
    if [ $rc -eq 0 ] && [ $n -eq 40 ] && [ "$(ls "$T/v2" | wc -l)" -eq 40 ] && awk "BEGIN { exit !($worst >= 48.1) }" &&
       grep -q '"first_frame":20,"frames":20,"warmup_frames":18' "$T/out"; then
        ok "mpi: video over 2 processes, every frame as one process's (worst PSNR $worst dB >= 48.1)"
    else bad "mpi: video over 2 processes, every frame as one process's (exit $rc, $n frames, worst PSNR $worst)"; cat "$T/err"; fi
    [ -z "$(ls -a "$T" | grep impasto-video-parts)" ] && ok "mpi: video leaves no parts behind" ||
        bad "mpi: video leaves no parts behind"
    # Into an mp4: the frame count, rate, duration and audio of one process's; the warping error
    # (Lai et al.) at the seam (frames 19 -> 20) and over the clip within 10% and 2% of it.
    "$B" video -c $MM --method none --frames 40 --size 96 -q -o "$T/vref.mp4" 2>"$T/err"
    "$B" $VID -o "$T/v1.mp4" >"$T/out" 2>"$T/err"
    $RUN -np 2 "$BM" $VID -o "$T/v2.mp4" >"$T/out" 2>"$T/err"
    rc=$?
    i1=$(vinfo "$T/v1.mp4" "frames fps duration audio"); i2=$(vinfo "$T/v2.mp4" "frames fps duration audio")
    s1=$(werr "$T/v1.mp4" 19); s2=$(werr "$T/v2.mp4" 19); a1=$(werr "$T/v1.mp4" all); a2=$(werr "$T/v2.mp4" all)
    if [ $rc -eq 0 ] && [ "$i1" = "40 2997/125 1.668 True" ] && [ "$i1" = "$i2" ] && [ -n "$s2" ] &&
       awk "BEGIN { exit !($s2 <= 1.1 * $s1 && $a2 <= 1.02 * $a1) }"; then
        ok "mpi: video mp4 over 2 processes: $i2 (frames fps seconds audio), seam warping error $s2 (one process $s1)"
    else bad "mpi: video mp4 over 2 processes ('$i2' against '$i1', seam $s2 against $s1, all $a2 against $a1)"; cat "$T/err"; fi
    # Ctrl-C: every process stops, process 0 keeps the frames done from the first on.
    ( $RUN -np 2 "$BM" video -c $MM -m candy --size 96 --threads 1 -q -o "$T/vi.mp4" </dev/null >"$T/out" 2>"$T/err"
      echo $? >"$T/rc" ) &
    for k in $(seq 1 600); do [ "$(ls -a "$T"/.impasto-video-parts-*/ 2>/dev/null | grep -c png)" -ge 30 ] && break; sleep 0.2; done
    pkill -INT -x impasto-mpi
    wait
    kept=$(sed -n 's/.*interrupted; the \([0-9]*\) frames done.*/\1/p' "$T/err")
    if [ "$(cat "$T/rc")" = 130 ] && [ ! -e "$T/vi.mp4" ] && [ -n "$kept" ] && [ "$kept" -ge 1 ] &&
       [ "$(vinfo "$T/vi_interrupted.mp4" frames)" = "$kept" ] && [ -z "$(ls -a "$T" | grep impasto-video-parts)" ]; then
        ok "mpi: video Ctrl-C keeps the $kept frames done from the first on"
    else bad "mpi: video Ctrl-C (exit $(cat "$T/rc"), kept '$kept')"; cat "$T/err"; fi
fi

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
EXPECT_LINES=3 expect "mpi: transfer of one picture is not shared" 2 "give a folder" -- \
    $RUN -np 2 "$BM" transfer -c $C -s $S -o "$T/t.png"
EXPECT_LINES=3 expect "mpi: dream runs as one process" 2 "runs as one process" -- \
    $RUN -np 2 "$BM" dream -c $C -o "$T/d.png"

# The optimisation and attention share a folder too: each photo made once, by one process, and the
# same picture as one process makes (same seed: the work of a photo does not depend on the job).
mkdir -p "$T/tin"
cp $C "$T/tin/a.jpg"; cp $S "$T/tin/b.jpg"; cp examples/images/scream.jpg "$T/tin/c.jpg"
TR="transfer -s $S --image-size 32 --num-iterations 3 --seed 3 --threads 1 -q"
$RUN -np 2 "$BM" $TR -c "$T/tin" -o "$T/tout2" >"$T/out" 2>"$T/err"; rc2=$?
"$BM" $TR -c "$T/tin/b.jpg" -o "$T/tb1.jpg" >/dev/null 2>&1
if [ $rc2 -eq 0 ] && [ "$(ls "$T/tout2" | wc -l)" -eq 3 ] && cmp -s "$T/tout2/b.jpg" "$T/tb1.jpg"; then
    ok "mpi: transfer -c DIR shared over 2 processes, the same pictures as one process"
else bad "mpi: transfer -c DIR over 2 processes (exit $rc2: $(ls "$T/tout2" 2>/dev/null | tr '\n' ' '))"; cat "$T/err"; fi
$RUN -np 2 "$BM" attention -c "$T/tin" -s $S -o "$T/aout2" --content-size 64 --style-size 64 --threads 1 -q \
    >"$T/out" 2>"$T/err"; rc2=$?
if [ $rc2 -eq 0 ] && [ "$(ls "$T/aout2" | wc -l)" -eq 3 ]; then ok "mpi: attention -c DIR shared over 2 processes"
else bad "mpi: attention -c DIR over 2 processes (exit $rc2)"; cat "$T/err"; fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
