#!/bin/sh
# `impasto transfer -c DIR -o OUTDIR`: every photo of the folder repainted with the same styles, as
# the folders of adain and fast work: each output under the photo's own file name, a photo that
# cannot be read reported and the others still made (exit 1), a line per item on the log, and
# Ctrl-C keeping the outputs written and the current photo's picture so far. Bad combinations
# (no -o, -o an image name, --init-image with a folder) are one line each. Run from the
# repository root (as `make test` does).
. tests/cli_lib.sh
C=examples/images/horses.jpg
S=examples/images/scream.jpg

mkdir -p "$T/in"
cp $C "$T/in/a.jpg"; cp $S "$T/in/b.jpg"; head -c 600 $C >"$T/in/broken.jpg"
expect "transfer folder: no -o" 2 "give an output folder" -- "$B" transfer -c "$T/in" -s $S
expect "transfer folder: -o an image name" 2 "not an image name" -- "$B" transfer -c "$T/in" -s $S -o "$T/x.png"
expect "transfer folder: --init-image" 2 "--init-image is one picture" -- "$B" transfer -c "$T/in" -s $S -o "$T/o" --init-image $C
expect "transfer folder: -o the content folder" 2 "is the content folder" -- "$B" transfer -c "$T/in" -s $S -o "$T/in"

if [ ! -f models/vgg19.safetensors ]; then
    echo "ok transfer folder runs # SKIP no models/vgg19.safetensors (make models)"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi

# Two photos made, the broken one reported; one log line per iteration names the photo.
"$B" transfer -c "$T/in" -s $S -o "$T/res" --image-size 32 --num-iterations 2 --print-iter 1 --seed 1 >"$T/log" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && [ -s "$T/res/a.jpg" ] && [ -s "$T/res/b.jpg" ] && [ ! -e "$T/res/broken.jpg" ] && grep -q "skipping $T/in/broken.jpg: .*truncated" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then
    ok "transfer folder: two made, the broken photo reported"
else echo "    exit $rc"; ls "$T/res" 2>&1 | sed 's/^/    /'; bad "transfer folder: two made, the broken photo reported"; fi
if grep -q "^1/3 a.jpg  iteration 2/2" "$T/log" && grep -q "^2/3 b.jpg  iteration 1/2" "$T/log"; then
    ok "transfer folder: the log names each photo"; else sed 's/^/    /' "$T/log"; bad "transfer folder: the log names each photo"; fi
# The same photo alone gives the same picture (same seed, same styles).
"$B" transfer -c "$T/in/a.jpg" -s $S -o "$T/alone.jpg" --image-size 32 --num-iterations 2 --seed 1 -q 2>"$T/err"
if cmp -s "$T/alone.jpg" "$T/res/a.jpg"; then ok "transfer folder: an item is the photo's own run"
else bad "transfer folder: an item is the photo's own run"; fi

# Ctrl-C: the outputs written are kept, the photo under way leaves its picture so far, exit 130.
mkdir -p "$T/many"; for i in 1 2 3 4 5 6; do cp $C "$T/many/p$i.jpg"; done
"$B" transfer -c "$T/many" -s $S -o "$T/many-out" --image-size 48 --num-iterations 1000 --print-iter 1 >"$T/out" 2>"$T/err" &
pid=$!
i=0; while ! grep -q "p1.jpg  iteration 2/" "$T/out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && [ -s "$T/many-out/p1_interrupted.jpg" ] && grep -q "interrupted" "$T/err" && ! ls "$T/many-out" | grep -q tmp; then
    ok "transfer folder: ctrl-c keeps the picture so far"
else echo "    exit $rc"; ls "$T/many-out" 2>&1 | sed 's/^/    /'; bad "transfer folder: ctrl-c keeps the picture so far"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
