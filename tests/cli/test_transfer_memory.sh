#!/bin/sh
# impasto transfer --memory / --tile / --tiling as a user meets them (issue #20): a budget too small
# for the picture says the least that would do in one line; a bad tile size is a usage error; a
# forced tiling runs and writes a picture of the right size; the budget's choice is told once.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
EXPECT_LINES=1
. tests/cli_lib.sh
MODEL=models/vgg19.safetensors
C=examples/images/horses.jpg
S=examples/images/scream.jpg

expect "budget too small" 2 "memory budget of 64 MB is too small for a 4096x2713 transfer: it needs at least [0-9]* MB (L-BFGS with a history of 5), or [0-9]* MB with Adam" -- \
    "$B" transfer -m $MODEL -c $C -s $S -o "$T/o.png" --image-size 4096 --memory 64
expect "budget too small, Adam" 2 "too small for a 4096x2713 transfer: it needs at least [0-9]* MB$" -- \
    "$B" transfer -m $MODEL -c $C -s $S -o "$T/o.png" --image-size 4096 --memory 64 --optimizer adam
if [ ! -e "$T/o.png" ]; then ok "refused run writes nothing"; else bad "refused run writes nothing"; fi
expect "tile not a multiple of 16" 2 "--tile takes 0 or a multiple of 16 of at least 32, not 40" -- \
    "$B" transfer -m $MODEL -c $C -s $S -o "$T/o.png" --tile 40
expect "bad tiling" 2 "tiling" -- "$B" transfer -m $MODEL -c $C -s $S -o "$T/o.png" --tiling seams

# The least budget a refusal names is enough: 1024 px under it tiles (and says so), and writes
# 1024x678. Shallow layers (halos of 8 px) keep the smallest tiles cheap enough for a test.
L="--style-layers relu1_1,relu2_1 --content-layers relu2_2 --optimizer adam"
"$B" transfer -m $MODEL -c $C -s $S -o "$T/o.png" --image-size 1024 --memory 1 $L 2>"$T/err"
need=$(sed -n 's/.*needs at least \([0-9]*\) MB.*/\1/p' "$T/err")
if [ -n "$need" ] &&
   "$B" transfer -m $MODEL -c $C -s $S -o "$T/o.png" --image-size 1024 --memory "$need" $L \
       --num-iterations 1 --save-iter 0 --print-iter 1 >"$T/out" 2>"$T/err" &&
   [ "$(png_size "$T/o.png")" = 1024x678 ] && grep -q "tiles [0-9]" "$T/out"; then
    ok "the least budget named runs, tiled"
else
    bad "the least budget named runs, tiled"
fi

# Forced small tiles, both tilings: a picture of the right size, the tiles in the log line.
for tiling in exact random; do
    rm -f "$T/o.png"
    if "$B" transfer -m $MODEL -c $C -s $S -o "$T/o.png" --image-size 96 --tile 32 --tiling $tiling \
           --num-iterations 2 --save-iter 0 --print-iter 1 --seed 1 >"$T/out" 2>"$T/err" &&
       [ "$(png_size "$T/o.png")" = 96x64 ] && grep -q "iteration 2/2 .* tiles [0-9]" "$T/out"; then
        ok "forced tiles, $tiling"
    else
        bad "forced tiles, $tiling"
    fi
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
