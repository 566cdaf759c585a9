#!/bin/sh
# `impasto dream` as a user meets it: usage mistakes (a layer VGG-19 does not have, a channel out of
# range, zero octaves, ...) get one line, exit 2 and write nothing; a run piped is quiet and writes
# the picture at its size; --zoom-frames writes the numbered frames; Ctrl-C exits 130, keeps the
# old output and saves the picture so far beside it; --json; the man page and completion know it.
# Small pictures (48 to 64 px), shallow layers: a few seconds each on a quiet machine.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
EXPECT_LINES=1
. tests/cli_lib.sh
MODEL=models/vgg19.safetensors
C=examples/images/horses.jpg
S=examples/images/scream.jpg

if [ ! -f $MODEL ]; then
    skip "dream" "no $MODEL (make models)"
    echo "$pass passed, $fail failed"
    exit 0
fi
O="$T/o.png"
Q="-m $MODEL -c $C -o $O --image-size 64 --threads 2"

# ---- usage mistakes: one line, exit 2, nothing written ----
expect "dream: unknown layer" 2 "unknown dream layer 'relu6_1'" -- "$B" dream $Q --layers relu6_1
expect "dream: channel out of range" 2 "relu5_1 has channels 0..511; '512' names none of them" -- "$B" dream $Q --layers relu4_2,relu5_1:512
expect "dream: channel not a number" 2 "relu4_2 has channels 0..511; 'x' names none of them" -- "$B" dream $Q --layers relu4_2:x
expect "dream: no layer" 2 "--layers names no layer" -- "$B" dream $Q --layers ,
expect "dream: layer twice" 2 "dream layer 'relu3_1' named twice" -- "$B" dream $Q --layers relu3_1,relu3_1
expect "dream: zero octaves" 2 "the number of octaves must be 1..32, got 0" -- "$B" dream $Q --octaves 0
expect "dream: octave scale 1" 2 "the octave scale must be above 1" -- "$B" dream $Q --octave-scale 1
expect "dream: zero iterations" 2 "iterations per octave must be 1..1000000, got 0" -- "$B" dream $Q --iterations 0
expect "dream: octaves too small" 2 "the smallest of 8 octaves is 6x4 pixels; relu4_2 needs at least 8" -- "$B" dream $Q --octaves 8
expect "dream: halo not a multiple of 8" 2 "multiple of 8" -- "$B" dream $Q --tile-halo 12
expect "dream: no photo" 2 "no photo (-c FILE)" -- "$B" dream -m $MODEL -o $O
expect "dream: missing photo" 1 "$T/none.jpg" -- "$B" dream -m $MODEL -c "$T/none.jpg" -o $O
expect "dream: missing guide" 1 "$T/none.jpg" -- "$B" dream $Q --guide "$T/none.jpg"
expect "dream: output is the photo" 2 "the output $C is also an input" -- "$B" dream -m $MODEL -c $C -o $C
expect "dream: output format" 2 "cannot tell the format of '$T/o.gif'" -- "$B" dream $Q -o "$T/o.gif"
[ ! -e $O ] && [ -z "$(ls "$T" | grep -v '^err$\|^out$')" ] && ok "dream: refused runs write nothing" ||
    bad "dream: refused runs write nothing"

# ---- a run, piped: quiet, the picture at its size, different from the photo ----
"$B" dream $Q --layers relu3_1 --octaves 2 --iterations 2 --seed 1 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ] && [ "$(png_size $O)" = 64x42 ]; then ok "dream: quiet when piped"
else bad "dream: quiet when piped"; fi
# The same seed gives the same file; channels and a guide run too.
"$B" dream $Q -o "$T/o2.png" --layers relu3_1 --octaves 2 --iterations 2 --seed 1 -q && cmp -s $O "$T/o2.png" &&
    ok "dream: --seed repeats" || bad "dream: --seed repeats"
"$B" dream $Q -o "$T/g.png" --layers relu3_1,relu2_1:5 --guide $S --guide-size 48 --octaves 2 --iterations 1 -q &&
    [ "$(png_size "$T/g.png")" = 64x42 ] && ok "dream: --guide and a channel" || bad "dream: --guide and a channel"
"$B" dream $Q -o "$T/oc.png" --layers relu2_1 --octaves 1 --iterations 1 --original-colors --tile 32 -q &&
    [ "$(png_size "$T/oc.png")" = 64x42 ] && ok "dream: --original-colors, tiled" || bad "dream: --original-colors, tiled"

# ---- log lines: one per step with --print-iter 1 ----
"$B" dream $Q --layers relu2_1 --octaves 2 --iterations 3 --print-iter 1 >"$T/out" 2>"$T/err"
[ "$(grep -c '^octave 1/2 46x30  step [1-3]/3 ' "$T/out")" -eq 3 ] && [ "$(grep -c '^octave 2/2 64x42  step [1-3]/3 ' "$T/out")" -eq 3 ] &&
    ok "dream: --print-iter" || { cat "$T/out"; bad "dream: --print-iter"; }

# ---- zoom frames: numbered, each the picture's size ----
"$B" dream $Q -o "$T/z.png" --layers relu2_1 --octaves 1 --iterations 1 --zoom-frames 3 --zoom 1.1 -q
if [ $? -eq 0 ] && [ "$(png_size "$T/z_0001.png")" = 64x42 ] && [ -s "$T/z_0002.png" ] && [ -s "$T/z_0003.png" ] &&
   [ ! -e "$T/z_0004.png" ] && [ ! -e "$T/z.png" ] && ! cmp -s "$T/z_0001.png" "$T/z_0002.png"; then ok "dream: zoom frames"
else bad "dream: zoom frames"; fi

# ---- --json ----
"$B" dream $Q --layers relu2_1 --octaves 1 --iterations 2 --json >"$T/out" 2>"$T/err"
grep -q '"command":[[:space:]]*"dream"' "$T/out" && grep -q '"steps":[[:space:]]*2' "$T/out" && grep -q '"objective"' "$T/out" &&
    grep -q "\"path\":[[:space:]]*\"$O\"" "$T/out" && ok "dream: --json" || bad "dream: --json"

# ---- Ctrl-C: 130, the old output kept, the picture so far beside it (and the frames written) ----
echo "precious" >"$T/int.png"
"$B" dream -m $MODEL -c $C -o "$T/int.png" --image-size 48 --layers relu2_1 --octaves 1 --iterations 1000000 --print-iter 1 \
    --threads 2 >"$T/log" 2>"$T/err" &
pid=$!
i=0; while [ ! -s "$T/log" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid
wait $pid; rc=$?
if [ $rc -eq 130 ] && [ "$(cat "$T/int.png")" = "precious" ] && [ "$(png_size "$T/int_interrupted.png")" = 48x32 ] &&
   grep -q "interrupted; the picture so far is in $T/int_interrupted.png" "$T/err"; then ok "dream: ctrl-c"
else echo "    exit $rc"; bad "dream: ctrl-c"; fi
"$B" dream -m $MODEL -c $C -o "$T/zi.png" --image-size 48 --layers relu2_1 --octaves 1 --iterations 3 --zoom-frames 1000 \
    --print-iter 1 --threads 2 >"$T/log" 2>"$T/err" &
pid=$!
i=0; while [ ! -s "$T/zi_0002.png" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid
wait $pid; rc=$?
if [ $rc -eq 130 ] && [ -s "$T/zi_0001.png" ] && [ -s "$T/zi_0002.png" ] && [ -s "$T/zi_interrupted.png" ]; then
    ok "dream: ctrl-c keeps the frames"
else echo "    exit $rc"; bad "dream: ctrl-c keeps the frames"; fi

# ---- generated documents ----
"$B" help --man | grep -q '^\\fBimpasto dream\\fR\|impasto dream' && "$B" help --man | grep -q 'zoom\\-frames\|zoom-frames' &&
    ok "dream: man page" || bad "dream: man page"
"$B" help --bash-completion >"$T/compl"
grep -q "dream" "$T/compl" && grep -q -- "--zoom-frames" "$T/compl" && ok "dream: bash completion" || bad "dream: bash completion"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
