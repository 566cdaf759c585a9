#!/bin/sh
# `impasto train` as a user meets it: usage errors exit 2 with one line, failures exit 1 naming the
# file, a tiny run writes a model `impasto fast` loads, Ctrl-C writes a checkpoint and exits 130,
# and --resume finishes from it. Run from the repository root (as `make test` does).
. tests/cli_lib.sh
M=models/vgg19.safetensors
S=examples/images/scream.jpg
C=examples/images/horses.jpg

mkdir -p "$T/photos" "$T/empty"
cp $C "$T/photos/a.jpg"
cp $S "$T/photos/b.jpg"
O="$T/m.safetensors"
expect "train: no style" 2 "no style image" -- "$B" train -d "$T/photos" -o "$O"
expect "train: no data" 2 "no photo folder" -- "$B" train -s $S -o "$O"
expect "train: no output" 2 "no output model" -- "$B" train -s $S -d "$T/photos"
expect "train: output not a model" 2 "FILE.safetensors" -- "$B" train -s $S -d "$T/photos" -o "$T/m.png"
expect "train: size not a multiple of 4" 2 "multiple of 4" -- "$B" train -s $S -d "$T/photos" -o "$O" --image-size 30
expect "train: bad lr" 2 "--lr" -- "$B" train -s $S -d "$T/photos" -o "$O" --lr zero
expect "train: ambiguous option" 2 "option '--content' is ambiguous: --content-weight, --content-layers" -- "$B" train -s $S -d "$T/photos" -o "$O" --content x
expect "train: missing folder" 1 "cannot open the photo folder $T/none" -- "$B" train -s $S -d "$T/none" -o "$O"
expect "train: empty folder" 1 "no .png, .jpg or .jpeg files" -- "$B" train -s $S -d "$T/empty" -o "$O"
expect "train: missing style" 1 "$T/nope.jpg" -- "$B" train -s "$T/nope.jpg" -d "$T/photos" -o "$O"

if [ ! -f $M ]; then
    echo "ok train runs # SKIP no $M (make models)"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi
expect "train: bad layer" 2 "unknown style layer 'relu7_1'" -- "$B" train -s $S -d "$T/photos" -o "$O" --style-layers relu7_1 --image-size 32
expect "train: missing checkpoint" 1 "$T/ck.safetensors" -- "$B" train -s $S -d "$T/photos" -o "$O" --resume "$T/ck.safetensors" --image-size 32
[ ! -e "$O" ] && ok "failed runs write no model" || bad "failed runs write no model"

# A tiny run, quiet when piped: a model that `impasto fast` runs, a preview.
"$B" train -s $S -d "$T/photos" -o "$O" --image-size 32 --batch-size 2 --steps 2 --preview-every 2 --threads 1 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ] && [ -s "$O" ] && [ -s "$T/m_preview_2.png" ]; then ok "train: tiny run"; else bad "train: tiny run"; fi
"$B" fast -m "$O" -c $C -o "$T/fast.png" --content-scale 8 --threads 1 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ -s "$T/fast.png" ]; then ok "train: fast loads the model"; else bad "train: fast loads the model"; fi
# The adversarial term: its losses on the log line, --paintings only with it.
"$B" train -s $S -d "$T/photos" -o "$T/adv.safetensors" --image-size 32 --batch-size 2 --steps 2 --threads 1 \
    --adversarial-weight 1e5 --paintings "$T/photos" --print-every 1 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q "^step 2/2 .* adversarial [0-9.e+-]*  D [0-9.e+-]*" "$T/out" && [ -s "$T/adv.safetensors" ]; then
    ok "train: --adversarial-weight"; else bad "train: --adversarial-weight"; cat "$T/out" "$T/err"; fi
expect "train: --paintings alone" 2 "--paintings is for --adversarial-weight" -- "$B" train -s $S -d "$T/photos" -o "$O" --paintings "$T/photos"
expect "train: a model does not resume" 1 "not a training checkpoint" -- "$B" train -s $S -d "$T/photos" -o "$T/r.safetensors" --resume "$O" --image-size 32

# Ctrl-C: a checkpoint of the steps done, exit 130, no model; --resume finishes the run.
"$B" train -s $S -d "$T/photos" -o "$T/int.safetensors" --image-size 32 --batch-size 1 --steps 100000 --print-every 1 \
    --checkpoint-dir "$T/ck" --threads 1 >"$T/log" 2>"$T/err" &
pid=$!
i=0; while ! grep -q "^step" "$T/log" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid
wait $pid; rc=$?
ck=$(ls "$T"/ck/ckpt_step_*.safetensors 2>/dev/null | head -1)
if [ $rc -eq 130 ] && [ -n "$ck" ] && grep -q "interrupted.*checkpoint" "$T/err" && [ ! -e "$T/int.safetensors" ]; then
    ok "train: ctrl-c writes a checkpoint"
else
    echo "    exit $rc"; bad "train: ctrl-c writes a checkpoint"
fi
if [ -n "$ck" ]; then
    n=${ck##*ckpt_step_}; n=${n%.safetensors}
    "$B" train -s $S -d "$T/photos" -o "$T/int.safetensors" --image-size 32 --batch-size 1 --steps $((n + 1)) \
        --resume "$ck" --print-every 1 --threads 1 >"$T/log" 2>"$T/err"
    if [ $? -eq 0 ] && grep -q "^step $((n + 1))/$((n + 1))" "$T/log" && [ "$(grep -c '^step' "$T/log")" -eq 1 ] && [ -s "$T/int.safetensors" ]; then
        ok "train: resume finishes"
    else bad "train: resume finishes"; fi
    expect "train: resume past --steps" 2 "already at step $n of $n" -- "$B" train -s $S -d "$T/photos" -o "$T/int2.safetensors" \
        --image-size 32 --batch-size 1 --steps $n --resume "$ck" --threads 1
    [ ! -e "$T/int2.safetensors" ] && ok "train: resume past --steps writes nothing" || bad "train: resume past --steps writes nothing"
else
    bad "train: resume finishes"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
