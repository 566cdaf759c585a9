#!/bin/sh
# `impasto fast` and `impasto convert ncnn-transformernet` as a user meets them: usage errors exit 2
# with one line, failures exit 1 naming the file, a file or a folder of photos is repainted, outputs
# are written atomically. Run from the repository root (as `make test` does).
. tests/cli_lib.sh
M=models/candy.safetensors
U=${UPSTREAM:-../shared/models/upstream}/fast-neural-style
C=examples/images/horses.jpg

expect "fast: no model" 2 "no model" -- "$B" fast -c $C -o "$T/o.png"
expect "fast: no content" 2 "no content" -- "$B" fast -m $M -o "$T/o.png"
expect "fast: bad scale" 2 "--content-scale must be between" -- "$B" fast -m $M -c $C --content-scale 0
expect "fast: scale not a number" 2 "expects a number" -- "$B" fast -m $M -c $C --content-scale big
expect "fast: unknown option" 2 "unknown option '--style'" -- "$B" fast -m $M -c $C --style x
expect "fast: output format" 2 "cannot tell the format" -- "$B" fast -m $M -c $C -o "$T/o.gif"
mkdir -p "$T/in"
expect "fast: folder needs -o" 2 "give an output folder" -- "$B" fast -m $M -c "$T/in"
expect "fast: folder onto itself" 2 "never written among the inputs" -- "$B" fast -m $M -c "$T/in" -o "$T/in/"
expect "fast: missing model" 1 "cannot open $T/none.safetensors" -- "$B" fast -m "$T/none.safetensors" -c $C -o "$T/o.png"
expect "fast: missing content" 1 "$T/nope.jpg" -- "$B" fast -m $M -c "$T/nope.jpg" -o "$T/o.png"
expect "convert: no --param" 2 "needs the param file" -- "$B" convert ncnn-transformernet "$U/candy.bin" -o "$T/c.safetensors"
expect "convert: two weights" 2 "one weights file" -- "$B" convert ncnn-transformernet --param x a b -o "$T/c.safetensors"

if [ ! -f $M ] || [ ! -d "$U" ]; then
    echo "ok fast runs # SKIP no $M or $U (make models)"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi

if [ -f models/vgg19.safetensors ]; then
    expect "fast: a VGG model" 1 "not a fast style network" -- "$B" fast -m models/vgg19.safetensors -c $C -o "$T/o.png"
fi
head -c 100000 $M >"$T/trunc.safetensors"
expect "fast: truncated model" 1 "trunc.safetensors" -- "$B" fast -m "$T/trunc.safetensors" -c $C -o "$T/o.png"
head -c 3000000 "$U/candy.bin" >"$T/trunc.bin"
expect "convert: truncated weights" 1 "trunc.bin: truncated" -- "$B" convert ncnn-transformernet --param "$U/transformernet.param.bin" "$T/trunc.bin" -o "$T/c.safetensors"
expect "convert: weights as param" 1 "not a binary ncnn param file" -- "$B" convert ncnn-transformernet --param "$U/candy.bin" "$U/candy.bin" -o "$T/c.safetensors"
[ ! -e "$T/c.safetensors" ] && ok "failed convert writes nothing" || bad "failed convert writes nothing"

# One photo, shrunk 8x (773x512 -> 96x64), quiet when piped; -m by style name.
"$B" fast -m $M -c $C -o "$T/one.png" --content-scale 8 --threads 1 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ] && [ -s "$T/one.png" ]; then ok "fast: one photo"; else bad "fast: one photo"; fi
"$B" compare "$T/one.png" "$T/one.png" >"$T/out" 2>"$T/err" && grep -q "96x64\|SSIM" "$T/out" && ok "fast: output readable" || bad "fast: output readable"
"$B" fast -m candy -c $C -o "$T/byname.jpg" --content-scale 8 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ -s "$T/byname.jpg" ]; then ok "fast: -m by name"; else bad "fast: -m by name"; fi

# A failed run keeps the old output.
printf 'not an image' >"$T/in/broken.png"
echo "precious" >"$T/keep.png"
"$B" fast -m $M -c "$T/in/broken.png" -o "$T/keep.png" >/dev/null 2>&1
if [ $? -eq 1 ] && [ "$(cat "$T/keep.png")" = "precious" ] && [ -z "$(ls "$T" | grep tmp)" ]; then ok "fast: old output kept"; else bad "fast: old output kept"; fi

# A folder: every image repainted under its own name; a broken one reported, the others made.
cp "$T/one.png" "$T/in/a.png"
cp "$T/byname.jpg" "$T/in/b.jpg"
echo "notes" >"$T/in/readme.txt"
"$B" fast -m $M -c "$T/in" -o "$T/outdir" --threads 1 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && [ -s "$T/outdir/a.png" ] && [ -s "$T/outdir/b.jpg" ] && [ ! -e "$T/outdir/broken.png" ] &&
   [ ! -e "$T/outdir/readme.txt" ] && grep -q "broken.png" "$T/err"; then ok "fast: folder, one broken"; else echo "    exit $rc"; bad "fast: folder, one broken"; fi
rm "$T/in/broken.png"
"$B" fast -m $M -c "$T/in" -o "$T/outdir2" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(ls "$T/outdir2" | wc -l)" -eq 2 ]; then ok "fast: folder"; else bad "fast: folder"; fi
mkdir -p "$T/empty"
expect "fast: empty folder" 1 "no .png, .jpg or .jpeg files" -- "$B" fast -m $M -c "$T/empty" -o "$T/outdir3"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
