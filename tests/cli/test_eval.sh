#!/bin/sh
# impasto eval, compare and grid as a user meets them: a table or JSON per output, SSIM/PSNR of
# an image with itself, a contact sheet of the documented size, one-line errors for bad input.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
EXPECT_LINES=1
. tests/cli_lib.sh
MODEL=models/vgg19.safetensors
C=examples/images/horses.jpg
S=examples/images/scream.jpg

# Two short runs with different style weights, and the photo itself at the same size.
for sw in 10 1000; do
    "$B" transfer -m $MODEL -c $C -s $S -o "$T/sw$sw.png" --image-size 48 --num-iterations 4 --style-weight $sw \
        --seed 1 --save-iter 0 -q >/dev/null 2>&1 || echo "    transfer with style weight $sw failed"
done
"$B" grid -o "$T/photo.png" --cell 48 --gap 0 $C 2>/dev/null

# eval: a header and one row per output, side by side.
"$B" eval -m $MODEL -c $C -s $S "$T/sw10.png" "$T/sw1000.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/err" ] && [ "$(wc -l <"$T/out")" -eq 3 ] &&
   head -1 "$T/out" | grep -q 'SSIM.*PSNR.*edge.*content.*style.*SWD.*colour' &&
   grep -q '^[^ ]*sw10.png  *48x32 ' "$T/out" && grep -q '^[^ ]*sw1000.png ' "$T/out"; then
    ok "eval table"
else
    bad "eval table"; sed 's/^/    /' "$T/out"
fi

# The photo against itself: SSIM 1, PSNR inf, edge 1, content loss 0.
"$B" eval -m $MODEL -c "$T/photo.png" -s $S "$T/photo.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q 'photo.png  *48x48  *1.0000  *inf  *1.0000  *0 ' "$T/out"; then ok "eval of the content itself"
else bad "eval of the content itself"; sed 's/^/    /' "$T/out"; fi

# --verbose: a column per layer.
"$B" eval -m $MODEL -c $C -s $S -v --content-layers relu3_1,relu4_2 "$T/sw10.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && head -1 "$T/out" | grep -q 'c:relu3_1.*c:relu4_2.*s:relu1_1.*s:relu5_1.*swd:relu1_1.*swd:relu5_1'; then
    ok "eval --verbose"
else bad "eval --verbose"; sed 's/^/    /' "$T/out"; fi

# --json: well-formed enough to grep; PSNR of identical images is null (JSON has no infinity).
"$B" eval -m $MODEL -c "$T/photo.png" -s $S,$S --json "$T/photo.png" "$T/sw10.png" >"$T/out" 2>"$T/err"
rc=$?
opens=$(tr -cd '{' <"$T/out" | wc -c); closes=$(tr -cd '}' <"$T/out" | wc -c)
if [ $rc -eq 0 ] && head -c 12 "$T/out" | grep -q '^{"content": ' && [ "$opens" -eq "$closes" ] &&
   [ "$(grep -c '"output": ' "$T/out")" -eq 2 ] && grep -q '"styles": \["[^"]*scream.jpg", "[^"]*scream.jpg"\]' "$T/out" &&
   grep -q '"ssim": 1, "psnr": null, "edge": 1, "content_loss": 0,' "$T/out" &&
   grep -q '"style_layers": {"relu1_1": [0-9.e+-]*, "relu2_1"' "$T/out" && ! grep -qi 'inf\|nan' "$T/out"; then
    ok "eval --json"
else bad "eval --json"; sed 's/^/    /' "$T/out"; fi

# compare
"$B" compare $C $C >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(cat "$T/out")" = "SSIM 1.0000  PSNR inf dB" ]; then ok "compare with itself"; else bad "compare with itself"; fi
"$B" compare --json $C $C >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(cat "$T/out")" = '{"ssim": 1.000000, "psnr": null}' ]; then ok "compare --json"; else bad "compare --json"; fi
"$B" compare "$T/sw10.png" "$T/sw1000.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q '^SSIM 0\.[0-9]\{4\}  PSNR [0-9]*\.[0-9][0-9] dB$' "$T/out"; then ok "compare two runs"; else bad "compare two runs"; fi
expect "compare sizes differ" 2 "is 48x32 but.*--resize" -- "$B" compare "$T/sw10.png" "$T/photo.png"
"$B" compare --resize "$T/sw10.png" "$T/photo.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q '^SSIM ' "$T/out"; then ok "compare --resize"; else bad "compare --resize"; fi

# grid: cols * cell + (cols + 1) * gap wide, rows * (cell + 9 * scale) + (rows + 1) * gap high.
"$B" grid -o "$T/sheet.png" --cols 2 --cell 64 --gap 4 --labels $C $S "$T/sw10.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/err" ] && [ "$(png_size "$T/sheet.png")" = "140x158" ]; then ok "grid size"
else echo "    size $(png_size "$T/sheet.png" 2>/dev/null)"; bad "grid size"; fi
"$B" grid -o "$T/row.png" --cell 32 --gap 0 $C $S "$T/sw10.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(png_size "$T/row.png")" = "96x32" ]; then ok "grid one row"; else bad "grid one row"; fi

# Bad input: one line, exit 2 for usage, 1 for failures.
printf 'not an image' >"$T/garbage.png"
expect "eval no content" 2 "no content image" -- "$B" eval -s $S "$T/sw10.png"
expect "eval no style" 2 "no style image" -- "$B" eval -c $C "$T/sw10.png"
expect "eval no outputs" 2 "no output images" -- "$B" eval -c $C -s $S
expect "eval bad layer" 2 "unknown style layer 'relu9_9'" -- "$B" eval -m $MODEL -c $C -s $S --style-layers relu1_1,relu9_9 "$T/sw10.png"
expect "eval bad number" 2 "--projections must be between" -- "$B" eval -c $C -s $S --projections 0 "$T/sw10.png"
expect "eval unknown flag" 2 "unknown option '--colour'" -- "$B" eval -c $C -s $S --colour "$T/sw10.png"
expect "eval missing output" 1 "cannot open $T/nope.png" -- "$B" eval -m $MODEL -c $C -s $S "$T/nope.png"
expect "eval garbage output" 1 "garbage.png" -- "$B" eval -m $MODEL -c $C -s $S "$T/garbage.png"
expect "eval missing model" 1 "cannot open" -- "$B" eval -m "$T/none.safetensors" -c $C -s $S "$T/sw10.png"
expect "compare one image" 2 "expects two images, got 1" -- "$B" compare $C
expect "compare garbage" 1 "garbage.png" -- "$B" compare $C "$T/garbage.png"
expect "grid no output" 2 "no output file" -- "$B" grid $C
expect "grid no images" 2 "no images" -- "$B" grid -o "$T/g.png"
expect "grid bad cell" 2 "--cell must be between" -- "$B" grid -o "$T/g.png" --cell 5 $C
expect "grid missing image" 1 "cannot open $T/nope.png" -- "$B" grid -o "$T/g.png" $C "$T/nope.png"
if [ ! -e "$T/g.png" ]; then ok "grid failure writes nothing"; else bad "grid failure writes nothing"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
