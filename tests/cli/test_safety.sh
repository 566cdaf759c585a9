#!/bin/sh
# Nothing the user had is lost, nothing hangs, nothing is silently skipped (issue 15's cases):
# an output that is an input is refused, folders skip what they cannot read and make the rest,
# a FIFO never blocks a reader, a refused folder run leaves no folder behind, non-finite weights
# and losses stop the run with the old output kept, images too small for VGG are refused.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
. tests/cli_lib.sh
C=examples/images/horses.jpg
S=examples/images/scream.jpg
cp $C "$T/horses.jpg"; cp $S "$T/scream.jpg"
same() { cmp -s "$1" "$2"; }

# ---- 1. an output that is one of the inputs is refused before any work, the file untouched ----
cp $S "$T/s.jpg"
expect "transfer -o the style" 2 "the output $T/s.jpg is also an input" -- "$B" transfer -c $C -s "$T/s.jpg" -o "$T/s.jpg" --image-size 32 --num-iterations 2
same "$T/s.jpg" $S && ok "transfer: the style kept" || bad "transfer: the style kept"
expect "transfer -o the init image" 2 "is also an input" -- "$B" transfer -c $C -s $S --init-image "$T/s.jpg" -o "$T/s.jpg" --image-size 32 --num-iterations 2
expect "adain -o the content" 2 "is also an input" -- "$B" adain -c "$T/horses.jpg" -s $S -o "$T/horses.jpg" --content-size 32
expect "adain -o the mask" 2 "is also an input" -- "$B" adain -c $C -s $S --mask "$T/s.jpg" -o "$T/s.jpg" --content-size 32
expect "wct -o the style" 2 "is also an input" -- "$B" wct -c $C -s "$T/s.jpg" -o "$T/s.jpg" --content-size 32
expect "fast -o the content" 2 "is also an input" -- "$B" fast -m candy -c "$T/horses.jpg" -o "$T/horses.jpg"
expect "grid -o a cell" 2 "is also an input" -- "$B" grid -o "$T/horses.jpg" "$T/horses.jpg" $S
same "$T/horses.jpg" $C && ok "the content kept" || bad "the content kept"
ln -s "$T/s.jpg" "$T/link.jpg"; ln "$T/s.jpg" "$T/hard.jpg"
expect "output a symlink to the style" 2 "is the input $T/s.jpg (the same file)" -- "$B" adain -c $C -s "$T/s.jpg" -o "$T/link.jpg" --content-size 32
expect "output a hard link of the style" 2 "the same file" -- "$B" fast -m candy -c "$T/s.jpg" -o "$T/hard.jpg"
same "$T/s.jpg" $S && ok "linked style kept" || bad "linked style kept"
expect "convert writes only .safetensors" 2 "name it FILE.safetensors" -- "$B" convert adain "$T" -o "$T/o.png"
expect "train writes only .safetensors" 2 "name it FILE.safetensors" -- "$B" train -s $S -d "$T" -o "$T/s.jpg"

# ---- 2. one folder runner: an unreadable photo is skipped, the rest are made ----
mkdir -p "$T/m"; echo hi >"$T/m/a.png"; cp $C "$T/m/b.jpg"
"$B" fast -m candy -c "$T/m" -o "$T/fast-out" --content-scale 8 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && [ -s "$T/fast-out/b.jpg" ] && [ ! -e "$T/fast-out/a.png" ] && grep -q "skipping $T/m/a.png" "$T/err"
then ok "fast folder skips a bad first photo"; else echo "    exit $rc"; bad "fast folder skips a bad first photo"; fi
for m in adain wct; do
    "$B" $m -c "$T/m" -s $S -o "$T/$m-out" --content-size 32 --style-size 32 >"$T/out" 2>"$T/err"; rc=$?
    if [ $rc -eq 1 ] && [ -s "$T/$m-out/b_scream.png" ] && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "$m folder skips a bad photo"
    else echo "    exit $rc"; bad "$m folder skips a bad photo"; fi
done

# ---- 3. a FIFO never hangs a command (timeout's 124 would mean it did) ----
mkfifo "$T/f.png" "$T/f.safetensors"
expect "FIFO as content" 1 "not a regular file" -- timeout 60 "$B" adain -c "$T/f.png" -s $S -o "$T/o.png" --content-size 32
expect "FIFO as style" 1 "not a regular file" -- timeout 60 "$B" transfer -c $C -s "$T/f.png" -o "$T/o.png" --image-size 32
expect "FIFO as model" 1 "not a regular file" -- timeout 60 "$B" fast -m "$T/f.safetensors" -c $C -o "$T/o.png"
expect "FIFO as VGG" 1 "not a regular file" -- timeout 60 "$B" transfer -m "$T/f.safetensors" -c $C -s $S -o "$T/o.png" --image-size 32
mkdir -p "$T/fifo-in"; cp $C "$T/fifo-in/a.jpg"; mkfifo "$T/fifo-in/b.png"
timeout 120 "$B" fast -m candy -c "$T/fifo-in" -o "$T/fifo-out" --content-scale 8 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && [ -s "$T/fifo-out/a.jpg" ] && grep -q "b.png: not a regular file" "$T/err"; then ok "FIFO in a folder skipped"
else echo "    exit $rc"; bad "FIFO in a folder skipped"; fi
mkdir -p "$T/train-in"; cp $C "$T/train-in/a.jpg"; cp $S "$T/train-in/b.jpg"; mkfifo "$T/train-in/c.png"
timeout 300 "$B" train -s $S -d "$T/train-in" -o "$T/fifo.safetensors" --image-size 32 --batch-size 2 --steps 1 --threads 1 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && [ -s "$T/fifo.safetensors" ] && grep -q "c.png: not a regular file" "$T/err"; then ok "FIFO in a training folder skipped"
else echo "    exit $rc"; bad "FIFO in a training folder skipped"; fi

# ---- 4. a folder run that cannot start leaves no folder behind ----
mkdir -p "$T/empty"
expect "folder run, image-named output" 2 "-c is a folder, so -o must be a folder" -- "$B" adain -c "$T/empty" -s $S -o "$T/result.png"
[ ! -e "$T/result.png" ] && ok "no folder named like an image" || bad "no folder named like an image"
expect "folder run, -o an existing file" 2 "-c is a folder, so -o must be a folder ($T/s.jpg is a file)" -- "$B" fast -m candy -c "$T/m" -o "$T/s.jpg"
expect "folder run, nothing to do" 1 "no .png, .jpg or .jpeg files" -- "$B" wct -c "$T/empty" -s $S -o "$T/newdir"
[ ! -e "$T/newdir" ] && ok "no empty output folder" || bad "no empty output folder"
echo hi >"$T/empty/bad.png"
expect "folder run, nothing made" 1 "skipping" -- "$B" adain -c "$T/empty" -s $S -o "$T/newdir2"
[ ! -e "$T/newdir2" ] && ok "no output folder when nothing was made" || bad "no output folder when nothing was made"

# ---- 5. non-finite weights are refused at load; a non-finite loss stops the run ----
if [ -n "$PY" ]; then
    $PY tests/poke_tensor.py models/vgg19.safetensors "$T/nan-vgg.safetensors" conv1_1.weight nan
    $PY tests/poke_tensor.py models/adain.safetensors "$T/nan-adain.safetensors" decoder.1.weight inf
    $PY tests/poke_tensor.py models/candy.safetensors "$T/nan-candy.safetensors" conv1.conv2d.weight nan
    $PY tests/poke_tensor.py models/vgg19.safetensors "$T/huge-vgg.safetensors" conv1_1.weight 3e38
    echo precious >"$T/keep.png"
    expect "NaN in VGG-19" 1 "conv1_1.weight" -- "$B" transfer -m "$T/nan-vgg.safetensors" -c $C -s $S -o "$T/keep.png" --image-size 32 --num-iterations 2
    expect "infinity in AdaIN" 1 "decoder.1.weight" -- "$B" adain -m "$T/nan-adain.safetensors" -c $C -s $S -o "$T/keep.png" --content-size 32
    expect "NaN in a fast network" 1 "conv1.conv2d.weight" -- "$B" fast -m "$T/nan-candy.safetensors" -c $C -o "$T/keep.png" --content-scale 8
    expect "overflowing VGG-19" 1 "NaN or infinite" -- "$B" transfer -m "$T/huge-vgg.safetensors" -c $C -s $S -o "$T/keep.png" --image-size 32 --num-iterations 2
    [ "$(cat "$T/keep.png")" = precious ] && ok "old output kept after non-finite runs" || bad "old output kept after non-finite runs"
else
    skip "non-finite weights" "no python3 to write the models"
fi

# ---- 6. images VGG cannot use, and empty layer lists ----
png_make "$T/line.png" 2000 1 3
expect "transfer: a 2000x1 photo" 2 "at least 16 pixels" -- "$B" transfer -c "$T/line.png" -s $S -o "$T/o.png" --image-size 32 --num-iterations 2
expect "train: a 2000x1 style" 2 "at least" -- "$B" train -s "$T/line.png" -d "$T/train-in" -o "$T/l.safetensors" --image-size 32 --steps 1
expect "empty --style-layers" 2 "--style-layers names no layer" -- "$B" transfer -c $C -s $S --style-layers ""
expect "empty --content-layers" 2 "--content-layers names no layer" -- "$B" transfer -c $C -s $S --content-layers ","
expect "train: empty --style-layers" 2 "--style-layers names no layer" -- "$B" train -s $S -d "$T/m" -o "$T/x.safetensors" --style-layers ""

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
