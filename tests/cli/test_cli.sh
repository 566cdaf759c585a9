#!/bin/sh
# The command line as a user meets it: bad input gets one clear line and a non-zero exit, never
# a crash; outputs are written atomically; progress stays quiet when piped.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
. tests/cli_lib.sh
MODEL=models/vgg19.safetensors
C=examples/images/horses.jpg
S=examples/images/scream.jpg

expect "no command" 2 "usage" -- "$B"
expect "unknown command" 2 "unknown command 'paint'" -- "$B" paint
expect "unknown flag" 2 "unknown option '--colour'.*--help" -- "$B" transfer -c $C -s $S --colour
expect "bad number" 2 "--num-iterations expects a number, got 'ten'" -- "$B" transfer -c $C -s $S --num-iterations ten
expect "number out of range" 2 "--image-size must be between" -- "$B" transfer -c $C -s $S --image-size 5
expect "missing value" 2 "needs a value" -- "$B" transfer -c $C -s $S --seed
expect "no content" 2 "no content image" -- "$B" transfer -s $S
expect "no style" 2 "no style image" -- "$B" transfer -c $C
expect "bad enum" 2 "--optimizer is 'lbfgs' or 'adam'" -- "$B" transfer -c $C -s $S --optimizer sgd
expect "blend count" 2 "has 1 values for 2 style" -- "$B" transfer -c $C -s $S,$S --style-blend-weights 1
expect "scales order" 2 "coarse to fine" -- "$B" transfer -c $C -s $S --scales 512,256
expect "iterations per scale count" 2 "3 values for 2 scales" -- "$B" transfer -c $C -s $S --scales 32,48 --num-iterations 1,2,3
expect "iterations per scale whole" 2 "whole numbers" -- "$B" transfer -c $C -s $S --scales 32,48 --num-iterations 1,2.5
expect "missing content file" 1 "cannot open $T/nope.jpg" -- "$B" transfer -m $MODEL -c "$T/nope.jpg" -s $S -o "$T/o.png"

# Corrupt and truncated images.
head -c 5000 $C >"$T/trunc.jpg"
printf 'this is not an image at all' >"$T/garbage.png"
: >"$T/empty.png"
expect "truncated jpeg" 1 "trunc.jpg" -- "$B" transfer -m $MODEL -c "$T/trunc.jpg" -s $S -o "$T/o.png" --num-iterations 1
expect "garbage image" 1 "garbage.png" -- "$B" transfer -m $MODEL -c $C -s "$T/garbage.png" -o "$T/o.png" --num-iterations 1
expect "empty image" 1 "empty.png" -- "$B" transfer -m $MODEL -c "$T/empty.png" -s $S -o "$T/o.png"

# Missing, truncated and corrupt models.
expect "missing model" 1 "cannot open" -- "$B" transfer -m "$T/none.safetensors" -c $C -s $S -o "$T/o.png"
head -c 100000 $MODEL >"$T/trunc.safetensors"
expect "truncated model" 1 "trunc.safetensors" -- "$B" transfer -m "$T/trunc.safetensors" -c $C -s $S -o "$T/o.png"
printf '\377\377\377\377\377\377\377\177{}' >"$T/huge.safetensors"
expect "absurd model header" 1 "huge.safetensors" -- "$B" transfer -m "$T/huge.safetensors" -c $C -s $S -o "$T/o.png"
expect "convert missing dir" 1 "$T/nowhere" -- "$B" convert vgg19 "$T/nowhere" -o "$T/v.safetensors"
expect "convert unknown net" 2 "unknown network" -- "$B" convert resnet "$T" -o "$T/v.safetensors"

# A failed run leaves the user's old output as it was, and no temporary files behind.
echo "precious" >"$T/keep.png"
"$B" transfer -m $MODEL -c "$T/trunc.jpg" -s $S -o "$T/keep.png" >/dev/null 2>&1
if [ "$(cat "$T/keep.png")" = "precious" ] && [ -z "$(ls "$T" | grep tmp)" ]; then ok "old output kept"; else bad "old output kept"; fi

# A short real run, piped: nothing on stderr (no progress bar when not a terminal), a PNG out,
# intermediate images with --save-iter.
"$B" transfer -m $MODEL -c $C -s $S -o "$T/run.png" --image-size 48 --num-iterations 4 --save-iter 2 --seed 1 >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ] && [ -s "$T/run.png" ] && [ -s "$T/run_2.png" ]; then
    ok "quiet when piped, saves"
else
    echo "    exit $rc"; bad "quiet when piped, saves"
fi
# --print-iter asks for log lines even when piped.
"$B" transfer -m $MODEL -c $C -s $S -o "$T/run2.jpg" --image-size 32 --num-iterations 4 --print-iter 2 --save-iter 0 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(grep -c '^iteration' "$T/out")" -eq 2 ] && [ -s "$T/run2.jpg" ]; then ok "print-iter"; else bad "print-iter"; fi

# Coarse to fine with its own number of iterations at each scale.
"$B" transfer -m $MODEL -c $C -s $S -o "$T/ms.png" --scales 32,48 --num-iterations 2,3 --print-iter 1 --save-iter 0 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(grep -c '^scale 1/2 .* iteration [0-9]/2 ' "$T/out")" -eq 2 ] &&
   [ "$(grep -c '^scale 2/2 .* iteration [0-9]/3 ' "$T/out")" -eq 3 ] && [ -s "$T/ms.png" ]; then
    ok "iterations per scale"
else
    bad "iterations per scale"
fi

# Ctrl-C: exits 130, keeps the old output, saves the picture so far beside it.
echo "precious" >"$T/int.png"
"$B" transfer -m $MODEL -c $C -s $S -o "$T/int.png" --image-size 64 --num-iterations 100000 --save-iter 0 --print-iter 1 >"$T/log" 2>"$T/err" &
pid=$!
# Wait until iterations are running (the log's first line), at most a minute.
i=0; while [ ! -s "$T/log" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid
wait $pid; rc=$?
if [ $rc -eq 130 ] && [ "$(cat "$T/int.png")" = "precious" ] && [ -s "$T/int_interrupted.png" ] && grep -q interrupted "$T/err"; then
    ok "ctrl-c"
else
    echo "    exit $rc"; bad "ctrl-c"
fi

# AdaIN (impasto adain, impasto convert adain).
ADAIN=models/adain.safetensors
expect "adain no style" 2 "no style image" -- "$B" adain -c $C
expect "adain bad alpha" 2 "--alpha must be between" -- "$B" adain -c $C -s $S --alpha 2
expect "adain weight count" 2 "has 1 values for 2 style" -- "$B" adain -c $C -s $S,$S --style-weights 1
expect "adain missing model" 1 "cannot open" -- "$B" adain -m "$T/none.safetensors" -c $C -s $S -o "$T/a.png"
expect "adain wrong model" 2 "AdaIN needs a model of kind 'adain'" -- "$B" adain -m $MODEL -c $C -s $S -o "$T/a.png" --content-size 32
expect "adain truncated image" 1 "trunc.jpg" -- "$B" adain -m $ADAIN -c "$T/trunc.jpg" -s $S -o "$T/a.png"
expect "convert adain two dirs" 2 "takes one upstream folder" -- "$B" convert adain "$T" "$T" -o "$T/a.safetensors"
expect "convert adain missing dir" 1 "$T/nowhere" -- "$B" convert adain "$T/nowhere" -o "$T/a.safetensors"
if [ -d ../shared/models/upstream/adain ]; then
    mkdir -p "$T/adain"
    head -c 100000 ../shared/models/upstream/adain/encoder_opt_quantized.pb >"$T/adain/encoder_opt_quantized.pb"
    cp ../shared/models/upstream/adain/decoder_opt_quantized.pb "$T/adain/"
    expect "convert adain truncated graph" 1 "not a valid TensorFlow GraphDef" -- "$B" convert adain "$T/adain" -o "$T/a.safetensors"
fi
echo "precious" >"$T/akeep.png"
"$B" adain -m $ADAIN -c "$T/trunc.jpg" -s $S -o "$T/akeep.png" >/dev/null 2>&1
if [ "$(cat "$T/akeep.png")" = "precious" ]; then ok "adain old output kept"; else bad "adain old output kept"; fi
"$B" adain -m $ADAIN -c $C -s $S,$S -o "$T/adain.png" --content-size 64 --style-size 48 --alpha 0.5 \
    --style-weights 1,2 --preserve-color >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ] && [ -s "$T/adain.png" ]; then ok "adain run"
else echo "    exit $rc"; bad "adain run"; fi

# Tiling (adain and wct): --tile is 0 or a multiple of 8 of at least 32; --tile-halo a multiple of 8.
for m in adain wct; do
    expect "$m tile not a multiple of 8" 2 "--tile must be 0 (never tile) or a multiple of 8 of at least 32" -- "$B" $m -c $C -s $S --tile 100
    expect "$m tile too small" 2 "--tile must be 0 (never tile) or a multiple of 8 of at least 32.*got 16" -- "$B" $m -c $C -s $S --tile 16
    expect "$m tile negative" 2 "--tile must be between 0 and 16384" -- "$B" $m -c $C -s $S --tile -8
    expect "$m tile not a number" 2 "--tile expects a whole number, got 'big'" -- "$B" $m -c $C -s $S --tile big
    expect "$m tile halo" 2 "--tile-halo must be a multiple of 8, got 20" -- "$B" $m -c $C -s $S --tile-halo 20
    expect "$m memory" 2 "--memory must be between 128" -- "$B" $m -c $C -s $S --memory 10
    "$B" $m -c $C -s $S -o "$T/tiled_$m.png" --content-size 96 --style-size 64 --tile 32 >"$T/out" 2>"$T/err"
    if [ $? -eq 0 ] && [ ! -s "$T/err" ] && [ -s "$T/tiled_$m.png" ]; then ok "$m tiled run"; else bad "$m tiled run"; fi
done

# WCT (impasto wct): relu4_1 with the AdaIN model, then relu3_1 with lst-r31.
LST=models/lst-r31.safetensors
expect "wct no style" 2 "no style image" -- "$B" wct -c $C
expect "wct bad alpha" 2 "--alpha must be between" -- "$B" wct -c $C -s $S --alpha -1
expect "wct bad levels" 2 "--levels must be between" -- "$B" wct -c $C -s $S --levels 3
expect "wct wrong model" 2 "needs a model of kind 'adain'" -- "$B" wct -m $LST --model-r31 $LST -c $C -s $S -o "$T/w.png" --content-size 32
expect "wct wrong r31 model" 2 "needs a model of kind 'lst-r31'" -- "$B" wct -m $ADAIN --model-r31 $ADAIN -c $C -s $S -o "$T/w.png" --content-size 32
expect "wct missing r31 model" 1 "cannot open" -- "$B" wct -m $ADAIN --model-r31 "$T/none.safetensors" -c $C -s $S -o "$T/w.png"
expect "wct too small" 2 "too small" -- "$B" wct -c $C -s $S -o "$T/w.png" --content-size 8
expect "wct truncated image" 1 "trunc.jpg" -- "$B" wct -c "$T/trunc.jpg" -s $S -o "$T/w.png"
"$B" wct -c $C -s $S -o "$T/wct.png" --content-size 64 --style-size 64 --alpha 0.8 >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ] && [ -s "$T/wct.png" ]; then ok "wct run"
else echo "    exit $rc"; bad "wct run"; fi
"$B" wct -c $C -s $S -o "$T/wct1.jpg" --content-size 48 --levels 1 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ -s "$T/wct1.jpg" ]; then ok "wct one level"; else bad "wct one level"; fi

# Folders (adain and wct): every content x style pair as OUT/<content>_<style>.png; bad files
# reported and skipped with exit 1; never into an input folder.
mkdir -p "$T/cin" "$T/sin"
cp $C "$T/cin/horses.jpg"; cp "$T/wct.png" "$T/cin/small.png"; cp "$T/trunc.jpg" "$T/cin/broken.jpg"
echo "notes" >"$T/cin/notes.txt"
cp $S "$T/sin/scream.jpg"; cp "$T/adain.png" "$T/sin/painted.png"
for m in adain wct; do
    "$B" $m -c "$T/cin" -s "$T/sin" -o "$T/$m-out" --content-size 48 --style-size 48 >"$T/out" 2>"$T/err"
    rc=$?
    got=$(ls "$T/$m-out" | tr '\n' ' ')
    if [ $rc -eq 1 ] && [ "$got" = "horses_painted.png horses_scream.png small_painted.png small_scream.png " ] &&
       grep -q "broken.jpg" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "$m folders"
    else echo "    exit $rc, made: $got"; bad "$m folders"; fi
    "$B" $m -c "$T/cin/horses.jpg" -s "$T/sin" -o "$T/$m-one" --content-size 48 --style-size 48 >"$T/out" 2>"$T/err"
    rc=$?
    got=$(ls "$T/$m-one" | tr '\n' ' ')
    if [ $rc -eq 0 ] && [ "$got" = "horses_painted.png horses_scream.png " ]; then ok "$m file x folder"
    else bad "$m file x folder"; fi
    expect "$m folder into content" 2 "never written among the inputs" -- "$B" $m -c "$T/cin" -s $S -o "$T/cin/"
    expect "$m folder into style" 2 "never written among the inputs" -- "$B" $m -c $C -s "$T/sin" -o "$T/sin"
    expect "$m folder needs -o" 2 "give an output folder" -- "$B" $m -c "$T/cin" -s $S
done
mkdir -p "$T/dup"; cp $C "$T/dup/a.jpg"; cp "$T/wct.png" "$T/dup/a.png"
"$B" adain -c "$T/dup" -s $S -o "$T/dup-out" --content-size 32 --style-size 32 >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(ls "$T/dup-out")" = "a_scream.png" ] && grep -q "a.png: another content has the same name" "$T/err"
then ok "folder same names"; else echo "    exit $rc"; bad "folder same names"; fi
expect "adain folder one -s" 2 "give one -s" -- "$B" adain -c "$T/cin" -s $S,$S -o "$T/x"
if [ "$(ls "$T/cin" | tr '\n' ' ')" = "broken.jpg horses.jpg notes.txt small.png " ]; then ok "inputs untouched"
else bad "inputs untouched"; fi

# AdaIN spatial control: one style per gray level of the mask.
MASK=../shared/images/mask/mask.png
if [ -f $MASK ]; then
    "$B" adain -c $C -s $S,"$T/adain.png" --mask $MASK -o "$T/masked.png" --content-size 64 --style-size 64 >"$T/out" 2>"$T/err"
    if [ $? -eq 0 ] && [ -s "$T/masked.png" ] && grep -q "it is stretched over it" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "adain mask (stretched: one note)"; else bad "adain mask"; fi
    expect "adain mask level count" 2 "2 gray levels for 1 style" -- "$B" adain -c $C -s $S --mask $MASK -o "$T/m.png" --content-size 32
fi
expect "adain mask with weights" 2 "no --style-weights" -- "$B" adain -c $C -s $S,$S --style-weights 1,2 --mask $C -o "$T/m.png"
expect "adain mask with folders" 2 "not folders" -- "$B" adain -c "$T/cin" -s $S --mask $C -o "$T/mf"
expect "adain missing mask" 1 "cannot open" -- "$B" adain -c $C -s $S --mask "$T/nomask.png" -o "$T/m.png"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
