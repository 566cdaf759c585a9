#!/bin/sh
# `impasto gan train` and `impasto translate` as a user meets them: usage mistakes exit 2 and
# failures 1 with one line, tiny CycleGAN and pix2pix runs (every --task) write models that
# translate pictures to their own size, a resumed run writes the same model byte for byte as an
# unbroken one, Ctrl-C leaves a checkpoint and exits 130, the losses CSV has one row a step and a
# resumed run appends to it. Tiny networks on 40-pixel pictures, one thread: a few seconds.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
EXPECT_LINES=1
. tests/cli_lib.sh
C=examples/images/horses.jpg
S=examples/images/scream.jpg
TINY="--ngf 4 --ndf 4 --size 32 --threads 1"
CYC="$TINY --generator resnet_1blocks"
P2P="$TINY --generator unet_32"
CYC_HEADER=step,epoch,lr,D_A,G_A,cycle_A,idt_A,D_B,G_B,cycle_B,idt_B,seconds
P2P_HEADER=step,epoch,lr,G_GAN,G_L1,D_real,D_fake,seconds

# ---- pictures: made by impasto grid (crops of the examples), grey and RGBA ones by png_make ----
mkdir -p "$T/A" "$T/B" "$T/P" "$T/one" "$T/empty" "$T/odd" "$T/mixed"
"$B" grid -o "$T/A/horses.png" --cell 40 --gap 0 --crop $C 2>/dev/null
"$B" grid -o "$T/A/scream.png" --cell 40 --gap 0 $S 2>/dev/null
"$B" grid -o "$T/B/scream.png" --cell 40 --gap 0 --crop $S 2>/dev/null
"$B" grid -o "$T/B/scream2.png" --cell 44 --gap 0 $S 2>/dev/null
"$B" grid -o "$T/P/pair1.png" --cell 40 --gap 0 --crop $C $S 2>/dev/null   # A|B, 80x40
"$B" grid -o "$T/P/pair2.png" --cell 40 --gap 0 --crop $S $C 2>/dev/null
"$B" grid -o "$T/odd/odd.png" --cell 27 --gap 0 --crop $C $C $C 2>/dev/null  # 81 pixels wide
cp "$T/A/horses.png" "$T/one/"
cp "$T/P/pair1.png" "$T/odd/"
[ "$(png_size "$T/P/pair1.png")" = 80x40 ] && ok "gan: test pictures" || bad "gan: test pictures"

# rows FILE: the first column of a CSV after its header, on one line ("1 2 3").
rows() { tail -n +2 "$1" | cut -d, -f1 | tr '\n' ' ' | sed 's/ $//'; }

# ---- usage mistakes (2) and failures (1): one line, nothing written ----
O="$T/x.safetensors"
expect "gan: no -a" 2 "no pictures of domain A (-a DIR)" -- "$B" gan train -b "$T/B" -o "$O" $CYC
expect "gan: cyclegan without -b" 2 "give domain B's pictures too (-b DIR)" -- "$B" gan train -a "$T/A" -o "$O" $CYC
expect "gan: pix2pix with -b" 2 "-b is for --model cyclegan only" -- "$B" gan train --model pix2pix -a "$T/P" -b "$T/B" -o "$O" $P2P
expect "gan: --task with cyclegan" 2 "--task is for --model pix2pix only" -- "$B" gan train -a "$T/A" -b "$T/B" --task edges -o "$O" $CYC
expect "gan: --lambda-l1 with cyclegan" 2 "--lambda-l1 is for --model pix2pix only" -- "$B" gan train -a "$T/A" -b "$T/B" --lambda-l1 5 -o "$O" $CYC
expect "gan: no output" 2 "no output model" -- "$B" gan train -a "$T/A" -b "$T/B" $CYC
expect "gan: output not a model" 2 "name it FILE.safetensors, got '$T/x.png'" -- "$B" gan train -a "$T/A" -b "$T/B" -o "$T/x.png" $CYC
expect "gan: losses not a CSV" 2 "name it FILE.csv" -- "$B" gan train -a "$T/A" -b "$T/B" -o "$O" --losses "$T/l.txt" $CYC
expect "gan: --size for resnet" 2 "crop size 30 is not a multiple of 4" -- "$B" gan train -a "$T/A" -b "$T/B" -o "$O" $CYC --size 30
expect "gan: --size for unet_32" 2 "crop size 48 is not a multiple of 32" -- "$B" gan train --model pix2pix -a "$T/P" -o "$O" $P2P --size 48
expect "gan: unknown generator" 2 "unknown generator 'resnet'" -- "$B" gan train -a "$T/A" -b "$T/B" -o "$O" $TINY --generator resnet
expect "gan: --dropout and --no-dropout" 2 "contradict" -- "$B" gan train -a "$T/A" -b "$T/B" -o "$O" $CYC --dropout --no-dropout
expect "gan: unknown --model" 2 "--model is 'cyclegan' or 'pix2pix', got 'munit'" -- "$B" gan train --model munit -a "$T/A" -o "$O"
expect "gan: missing folder" 1 "cannot open the -a folder $T/none: no such folder" -- "$B" gan train -a "$T/none" -b "$T/B" -o "$O" $CYC
expect "gan: a file for a folder" 1 "cannot open the -b folder $T/A/horses.png: not a folder" -- "$B" gan train -a "$T/A" -b "$T/A/horses.png" -o "$O" $CYC
expect "gan: empty folder" 1 "no .png, .jpg or .jpeg files in $T/empty" -- "$B" gan train -a "$T/A" -b "$T/empty" -o "$O" $CYC
expect "gan: odd A|B width" 2 "odd.png: an A|B picture must have an even width (it is 81)" -- "$B" gan train --model pix2pix -a "$T/odd" -o "$O" $P2P --steps 1
ln -s "$T/A/horses.png" "$T/link.csv"
expect "gan: losses onto a picture" 2 "$T/link.csv is the input $T/A/horses.png" -- "$B" gan train -a "$T/A" -b "$T/B" -o "$O" \
    --losses "$T/link.csv" $CYC
expect "gan: no verb" 2 "which one? 'impasto gan train'" -- "$B" gan
expect "gan: unknown verb" 2 "no command 'gan test'" -- "$B" gan test
[ ! -e "$O" ] && [ ! -e "$T/x_losses.csv" ] && ok "gan: refused runs write nothing" || bad "gan: refused runs write nothing"

# ---- a CycleGAN: quiet when piped, a model, one CSV row a step, previews ----
"$B" gan train -a "$T/A" -b "$T/B" -o "$T/u.safetensors" $CYC --steps 6 --preview-every 3 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ] && [ -s "$T/u.safetensors" ] && [ -s "$T/u_preview_3.png" ] &&
   [ -s "$T/u_preview_6.png" ]; then ok "gan: cyclegan run"; else bad "gan: cyclegan run"; fi
[ "$(head -1 "$T/u_losses.csv")" = $CYC_HEADER ] && [ "$(rows "$T/u_losses.csv")" = "1 2 3 4 5 6" ] &&
    ok "gan: losses CSV, header and a row a step" || bad "gan: losses CSV, header and a row a step"

# translate: both directions, the picture's own size; a folder; the model found by name
"$B" translate -m "$T/u.safetensors" -c $C -o "$T/ab.png" -q --threads 1 && [ "$(png_size "$T/ab.png")" = 773x512 ] &&
    ok "translate: A to B, the picture's size" || bad "translate: A to B, the picture's size"
"$B" translate -m "$T/u.safetensors" -c "$T/B/scream.png" -o "$T/ba.png" --direction BtoA -q --threads 1 &&
    [ "$(png_size "$T/ba.png")" = 40x40 ] && ok "translate: B to A" || bad "translate: B to A"
"$B" translate -m "$T/u.safetensors" -c $C -o "$T/small.png" --size 64 -q --threads 1 && [ "$(png_size "$T/small.png")" = 64x42 ] &&
    ok "translate: --size" || bad "translate: --size"
"$B" translate -m "$T/u.safetensors" -c "$T/A" -o "$T/tout" -q --threads 1 && [ "$(png_size "$T/tout/horses.png")" = 40x40 ] &&
    [ -s "$T/tout/scream.png" ] && ok "translate: a folder" || bad "translate: a folder"
mkdir -p "$T/models"; cp "$T/u.safetensors" "$T/models/h2s.safetensors"
IMPASTO_MODEL_DIR="$T/models" "$B" translate -m h2s -c "$T/A/horses.png" -o "$T/named.png" -q --threads 1 && [ -s "$T/named.png" ] &&
    ok "translate: -m NAME" || bad "translate: -m NAME"
IMPASTO_MODEL_DIR="$T/models" "$B" models | grep -q "h2s .*CycleGAN (resnet_1blocks, A <-> B): impasto translate" &&
    ok "models: lists a CycleGAN" || bad "models: lists a CycleGAN"
expect "translate: no model" 2 "no model" -- "$B" translate -c $C -o "$T/t.png"
expect "translate: -o onto the input" 2 "is also an input" -- "$B" translate -m "$T/u.safetensors" -c "$T/ab.png" -o "$T/ab.png"
if [ -f models/candy.safetensors ]; then
    expect "translate: a fast network" 1 "is a transformernet model, not a CycleGAN or pix2pix one" -- \
        "$B" translate -m models/candy.safetensors -c $C -o "$T/t.png"
else skip "translate: a fast network" "no models/candy.safetensors (make models)"; fi

# ---- resumed = unbroken, byte for byte; the CSV keeps one row a step ----
"$B" gan train -a "$T/A" -b "$T/B" -o "$T/c.safetensors" $CYC --steps 6 --checkpoint-every 3 --checkpoint-dir "$T/ck" \
    >/dev/null 2>"$T/err"
cmp -s "$T/u.safetensors" "$T/c.safetensors" && ok "gan: checkpoints change nothing" || bad "gan: checkpoints change nothing"
"$B" gan train -a "$T/A" -b "$T/B" -o "$T/r.safetensors" $CYC --steps 6 --resume "$T/ck/gan_step_3.safetensors" \
    --losses "$T/c_losses.csv" >/dev/null 2>"$T/err"
if [ $? -eq 0 ] && cmp "$T/u.safetensors" "$T/r.safetensors" >"$T/cmp"; then ok "gan: cyclegan resumed = unbroken"
else sed 's/^/    /' "$T/cmp"; bad "gan: cyclegan resumed = unbroken"; fi
# The resumed log: rows 4..6 of the first run replaced by the resumed run's, the same numbers.
cut -d, -f1-11 "$T/u_losses.csv" >"$T/u.cols"; cut -d, -f1-11 "$T/c_losses.csv" >"$T/c.cols"
cmp -s "$T/u.cols" "$T/c.cols" && ok "gan: resumed CSV, same rows as unbroken" || bad "gan: resumed CSV, same rows as unbroken"
expect "gan: -o onto the checkpoint" 2 "is also an input" -- "$B" gan train -a "$T/A" -b "$T/B" \
    -o "$T/ck/gan_step_3.safetensors" --resume "$T/ck/gan_step_3.safetensors" $CYC --steps 6
expect "gan: another generator" 2 "give the same --generator" -- "$B" gan train -a "$T/A" -b "$T/B" -o "$O" \
    --resume "$T/ck/gan_step_3.safetensors" $CYC --steps 6 --ngf 8
expect "gan: a model does not resume" 1 "not a cyclegan training checkpoint" -- "$B" gan train -a "$T/A" -b "$T/B" -o "$O" \
    --resume "$T/u.safetensors" $CYC --steps 6

# ---- pix2pix: every --task, A -> B only; resumed = unbroken with dropout on ----
for task in ab colorize edges; do
    d=$T/A; [ $task = ab ] && d=$T/P
    "$B" gan train --model pix2pix --task $task -a "$d" -o "$T/p_$task.safetensors" $P2P --steps 4 >/dev/null 2>"$T/err" &&
        "$B" translate -m "$T/p_$task.safetensors" -c $C -o "$T/p_$task.png" -q --threads 1 &&
        [ "$(png_size "$T/p_$task.png")" = 773x512 ] && [ "$(head -1 "$T/p_${task}_losses.csv")" = $P2P_HEADER ] &&
        [ "$(rows "$T/p_${task}_losses.csv")" = "1 2 3 4" ] && ok "gan: pix2pix --task $task" || bad "gan: pix2pix --task $task"
done
expect "translate: pix2pix B to A" 2 "translates only A to B" -- "$B" translate -m "$T/p_ab.safetensors" -c $C -o "$T/t.png" --direction BtoA
"$B" gan train --model pix2pix -a "$T/P" -o "$T/pc.safetensors" $P2P --steps 4 --checkpoint-every 2 --checkpoint-dir "$T/pck" \
    >/dev/null 2>&1
"$B" gan train --model pix2pix -a "$T/P" -o "$T/pr.safetensors" $P2P --steps 4 --resume "$T/pck/gan_step_2.safetensors" \
    >/dev/null 2>"$T/err"
cmp -s "$T/p_ab.safetensors" "$T/pr.safetensors" && ok "gan: pix2pix resumed = unbroken" || bad "gan: pix2pix resumed = unbroken"
# A batch of 2 (a pass run again for the second picture, its batch norms' statistics kept) with a
# history pool: resumed = unbroken too; another batch size does not resume it.
PB="$P2P --batch-size 2 --pool-size 1 --steps 4"
"$B" gan train --model pix2pix -a "$T/P" -o "$T/pb.safetensors" $PB >/dev/null 2>&1
"$B" gan train --model pix2pix -a "$T/P" -o "$T/pbc.safetensors" $PB --checkpoint-every 2 --checkpoint-dir "$T/pbck" \
    >/dev/null 2>&1
"$B" gan train --model pix2pix -a "$T/P" -o "$T/pbr.safetensors" $PB --resume "$T/pbck/gan_step_2.safetensors" \
    >/dev/null 2>"$T/err"
grep -a -q '"batch_size":"2"' "$T/pb.safetensors" && cmp -s "$T/pb.safetensors" "$T/pbr.safetensors" &&
    ! cmp -s "$T/pb.safetensors" "$T/p_ab.safetensors" && ok "gan: pix2pix batch 2 resumed = unbroken" ||
    bad "gan: pix2pix batch 2 resumed = unbroken"
expect "gan: resumed with another batch size" 2 "trained with batch size 2: resume it with --batch-size 2" -- \
    "$B" gan train --model pix2pix -a "$T/P" -o "$O" $P2P --steps 4 --resume "$T/pbck/gan_step_2.safetensors"

# ---- --json: one summary on stdout, the losses by name ----
"$B" gan train --model pix2pix -a "$T/P" -o "$T/j.safetensors" $P2P --steps 2 --json >"$T/j" 2>"$T/err"
if [ $? -eq 0 ] && [ -n "$PY" ] && [ "$($PY -c "import json,sys; j = json.load(open(sys.argv[1]))
print(j['command'], j['steps'], sorted(j['losses']), j['pictures_a'], j['outputs'][0]['path'].endswith('j.safetensors'))" "$T/j")" = \
    "gan train 2 ['D_fake', 'D_real', 'G_GAN', 'G_L1'] 2 True" ]; then ok "gan: --json"; else bad "gan: --json"; cat "$T/j"; fi

# ---- grey and RGBA pictures are converted; one picture a folder is not enough ----
if [ -n "$PY" ]; then
    png_make "$T/mixed/grey.png" 40 36 1; png_make "$T/mixed/rgba.png" 36 40 4; png_make "$T/mixed/ga.png" 40 40 2
    "$B" gan train -a "$T/mixed" -b "$T/B" -o "$T/g.safetensors" $CYC --steps 3 >/dev/null 2>"$T/err" &&
        [ -s "$T/g.safetensors" ] && ok "gan: grey and RGBA pictures" || bad "gan: grey and RGBA pictures"
    "$B" gan train --model pix2pix --task colorize -a "$T/mixed" -o "$T/g2.safetensors" $P2P --steps 3 >/dev/null 2>"$T/err" &&
        ok "gan: colorize grey and RGBA pictures" || bad "gan: colorize grey and RGBA pictures"
    # RGBA in, RGBA out (colour type 6 in the IHDR), the same size
    "$B" translate -m "$T/g.safetensors" -c "$T/mixed/rgba.png" -o "$T/rgba.png" -q --threads 1 && [ "$(png_size "$T/rgba.png")" = 36x40 ] &&
        [ "$(od -An -tu1 -j25 -N1 "$T/rgba.png" | tr -d ' ')" = 6 ] && ok "translate: alpha kept" || bad "translate: alpha kept"
else
    skip "gan: grey and RGBA pictures" "no python3 to write them"
fi
expect "gan: one picture a folder" 2 "only one picture for domain A: a GAN needs at least 2" -- \
    "$B" gan train -a "$T/one" -b "$T/B" -o "$T/one.safetensors" $CYC --steps 2

# ---- Ctrl-C: a checkpoint, exit 130, no model, the CSV up to that step; --resume appends ----
"$B" gan train -a "$T/A" -b "$T/B" -o "$T/int.safetensors" $CYC --steps 100000 --print-every 1 --checkpoint-dir "$T/ick" \
    >"$T/log" 2>"$T/err" &
pid=$!
i=0; while ! grep -q "^step" "$T/log" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid
wait $pid; rc=$?
ck=$(ls "$T"/ick/gan_step_*.safetensors 2>/dev/null | head -1)
n=${ck##*gan_step_}; n=${n%.safetensors}
if [ $rc -eq 130 ] && [ -n "$ck" ] && grep -q "^impasto gan train: interrupted: cancelled after step $n; checkpoint $ck\$" "$T/err" &&
   [ "$(wc -l <"$T/err")" -eq 1 ] && [ ! -e "$T/int.safetensors" ] && [ "$(tail -1 "$T/int_losses.csv" | cut -d, -f1)" = "$n" ] &&
   [ "$(wc -l <"$T/int_losses.csv")" -eq $((n + 1)) ]; then
    ok "gan: ctrl-c writes a checkpoint"
else
    echo "    exit $rc, checkpoint '$ck'"; bad "gan: ctrl-c writes a checkpoint"
fi
if [ -n "$ck" ]; then
    "$B" gan train -a "$T/A" -b "$T/B" -o "$T/int.safetensors" $CYC --steps $((n + 2)) --resume "$ck" --print-every 1 \
        >"$T/log" 2>"$T/err"
    rc=$?
    want=$(seq 1 $((n + 2)) | tr '\n' ' ' | sed 's/ $//')
    if [ $rc -eq 0 ] && [ -s "$T/int.safetensors" ] && [ "$(head -1 "$T/log" | cut -d' ' -f2)" = "$((n + 1))/$((n + 2))" ] &&
       [ "$(rows "$T/int_losses.csv")" = "$want" ] && [ "$(grep -c '^step' "$T/int_losses.csv")" -eq 1 ]; then
        ok "gan: resume after ctrl-c appends to the CSV"
    else bad "gan: resume after ctrl-c appends to the CSV"; fi
else
    bad "gan: resume after ctrl-c appends to the CSV"
fi

# ---- help, man page and completion know the two-word command ----
"$B" help gan train >"$T/h1" && "$B" gan train --help | cmp -s - "$T/h1" && grep -q "^usage: impasto gan train" "$T/h1" &&
    grep -q -- "--lr R .*(default 0.0002)" "$T/h1" && ok "gan: help gan train" || bad "gan: help gan train"
"$B" help gan | grep -q "gan train" && ok "gan: help gan lists its commands" || bad "gan: help gan lists its commands"
"$B" help --man | grep -q '^\.SS "impasto gan train"' && ok "gan: man page" || bad "gan: man page"
"$B" help --bash-completion >"$T/compl"
got=$(bash -c '. "$1"; try() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _impasto; echo "${COMPREPLY[*]}"; }
    echo "$(try impasto ga)|$(try impasto gan t)|$(try impasto gan train --gen)|$(try impasto gan train --task c)|$(try impasto translate --direction B)"' \
    sh "$T/compl")
[ "$got" = "gan|train|--generator|colorize|BtoA" ] && ok "gan: bash completion" || { echo "    got $got"; bad "gan: bash completion"; }

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
