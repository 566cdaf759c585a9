#!/bin/sh
# What the command line says (issue 15): help for every command, model lookup that names where it
# looked and suggests the closest network, messages in the command line's own words, usage
# mistakes exit 2, progress and "wrote" lines on a terminal (a pty from script(1)) and silence
# when piped, Ctrl-C keeps what was done. Run from the repository root; IMPASTO_BUILD as usual.
. tests/cli_lib.sh
C=examples/images/horses.jpg
S=examples/images/scream.jpg

# ---- help and version ----
for c in transfer adain wct fast train translate convert eval compare grid serve; do
    "$B" help $c >"$T/out" 2>"$T/err"; rc=$?
    if [ $rc -eq 0 ] && grep -q "^usage: impasto $c" "$T/out" && "$B" $c --help | cmp -s - "$T/out"; then ok "help $c"
    else bad "help $c"; fi
done
expect "help of no command" 2 "no command 'nosuch'" -- "$B" help nosuch
"$B" -V >"$T/out" 2>&1 && grep -q "^impasto [0-9]" "$T/out" && ok "-V" || bad "-V"
"$B" help >"$T/out" && grep -q IMPASTO_MODEL_DIR "$T/out" && ok "help names IMPASTO_MODEL_DIR" || bad "help names IMPASTO_MODEL_DIR"
for c in transfer adain wct fast train translate eval; do
    "$B" $c --help | grep -q 'IMPASTO_MODEL_DIR' && ok "$c --help names IMPASTO_MODEL_DIR" || bad "$c --help names IMPASTO_MODEL_DIR"
done

# ---- model lookup: a copy of the binary with no models beside it, HOME with none either ----
mkdir -p "$T/bin" "$T/home" "$T/md" "$T/cwd"
cp "$B" "$T/bin/impasto"
for n in candy rain_princess; do ln -s "$PWD/models/$n.safetensors" "$T/md/$n.safetensors"; done
ln -s "$PWD/models/vgg19.safetensors" "$T/md/vgg19.safetensors"
ABS_C=$PWD/$C ABS_S=$PWD/$S
(cd "$T/cwd" && HOME="$T/home" IMPASTO_MODEL_DIR="$T/nowhere" XDG_DATA_HOME= "$T/bin/impasto" transfer -c "$ABS_C" -s "$ABS_S" -o o.png) >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q 'IMPASTO_MODEL_DIR=.*nowhere (not a folder)' "$T/err" && grep -q "$T/home/.local/share/impasto/models" "$T/err" &&
   grep -q './models' "$T/err" && grep -q "share/impasto/models" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "missing model names every place"
else echo "    exit $rc"; bad "missing model names every place"; fi
(cd "$T/cwd" && HOME="$T/home" IMPASTO_MODEL_DIR="$T/md" "$T/bin/impasto" fast -m rain-princess -c "$ABS_C" -o o.png) >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "did you mean 'rain_princess'" "$T/err" && grep -q "networks found: candy, rain_princess" "$T/err"
then ok "fast -m suggests the closest network"; else echo "    exit $rc"; bad "fast -m suggests the closest network"; fi
(cd "$T/cwd" && HOME="$T/home" IMPASTO_MODEL_DIR="$T/md" "$T/bin/impasto" fast -m candy -c "$ABS_C" -o o.png --content-scale 8) >"$T/out" 2>"$T/err"
[ -s "$T/cwd/o.png" ] && ok "IMPASTO_MODEL_DIR is searched" || bad "IMPASTO_MODEL_DIR is searched"
mkdir -p "$T/home/.local/share/impasto/models"; ln -s "$PWD/models/candy.safetensors" "$T/home/.local/share/impasto/models/"
(cd "$T/cwd" && HOME="$T/home" "$T/bin/impasto" fast -m candy -c "$ABS_C" -o o2.png --content-scale 8) >"$T/out" 2>"$T/err"
[ -s "$T/cwd/o2.png" ] && ok "the user's data folder is searched" || bad "the user's data folder is searched"

# ---- messages in the command line's words, usage mistakes exit 2 ----
expect "fast names the file once" 1 "" -- "$B" fast -m candy -c "$T/nope.jpg" -o "$T/o.png"
[ "$(grep -o "$T/nope.jpg" "$T/err" | wc -l)" -eq 1 ] && ok "fast: path said once" || bad "fast: path said once"
expect "eval with the AdaIN model" 2 "-m .*adain.safetensors is a model of kind 'adain'" -- "$B" eval -m models/adain.safetensors -c $C -s $S $C
expect "wct with two styles" 2 "wct takes one style" -- "$B" wct -c $C -s "$S,$S"
expect "an image as a model" 1 "is a JPEG image, not a model" -- "$B" transfer -m $C -c $C -s $S -o "$T/o.png"
"$B" grid -o "$T/a.png" --cell 32 $C >/dev/null 2>&1
expect "a PNG as a fast network" 1 "is a PNG image, not a model" -- "$B" fast -m "$T/a.png" -c $C -o "$T/o.png"
expect "pixel limit names --max-pixels" 1 "--max-pixels raises the limit" -- "$B" adain -c $C -s $S -o "$T/o.png" --max-pixels 1000
if grep -q "impasto_" "$T/err"; then bad "no library function names"; else ok "no library function names"; fi
expect "grid: unknown extension" 2 "cannot tell the format" -- "$B" grid -o "$T/sheet.bmp" $C $S
MASK=../shared/images/mask/mask.png
[ -f $MASK ] && expect "adain: mask levels vs styles" 2 "2 gray levels for 1 style" -- "$B" adain -c $C -s $S --mask $MASK -o "$T/m.png" --content-size 32

# ---- progress, -q, "wrote" and Ctrl-C for adain and wct ----
on_tty() { script -qec "$*" /dev/null; }
for m in adain wct; do
    on_tty "$B" $m -c $C -s $S -o "$T/tty-$m.png" --content-size 96 --style-size 64 --tile 32 >"$T/out" 2>&1
    if grep -q "wrote $T/tty-$m.png" "$T/out" && grep -q "ETA" "$T/out"; then ok "$m: progress and wrote on a terminal"
    else bad "$m: progress and wrote on a terminal"; fi
    on_tty "$B" $m -q -c $C -s $S -o "$T/tty-$m-q.png" --content-size 64 --style-size 64 >"$T/out" 2>&1
    if [ -s "$T/tty-$m-q.png" ] && [ ! -s "$T/out" ]; then ok "$m -q"; else bad "$m -q"; fi
    "$B" $m -c $C -s $S -o "$T/pipe-$m.png" --content-size 64 --style-size 64 >"$T/out" 2>"$T/err"
    if [ -s "$T/pipe-$m.png" ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then ok "$m quiet when piped"; else bad "$m quiet when piped"; fi
done
# Ctrl-C in a long tiled run: exit 130, the old output kept.
echo precious >"$T/int.png"
"$B" adain -c $C -s $S -o "$T/int.png" --content-size 2048 --style-size 64 --tile 32 >"$T/out" 2>"$T/err" &
pid=$!
sleep 2; kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && [ "$(cat "$T/int.png")" = precious ] && grep -q interrupted "$T/err"; then ok "adain ctrl-c"
else echo "    exit $rc"; bad "adain ctrl-c"; fi
# Ctrl-C in a folder run keeps the outputs already written.
mkdir -p "$T/many"; for i in 1 2 3 4 5 6 7 8; do cp $C "$T/many/p$i.jpg"; done
"$B" wct -c "$T/many" -s $S -o "$T/many-out" --content-size 512 --style-size 256 >"$T/out" 2>"$T/err" &
pid=$!
i=0; while [ ! -s "$T/many-out/p1_scream.png" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid; wait $pid; rc=$?
made=$(ls "$T/many-out" 2>/dev/null | grep -c png)
if [ $rc -eq 130 ] && [ "$made" -ge 1 ] && [ "$made" -lt 8 ] && ! ls "$T/many-out" | grep -q tmp; then ok "folder ctrl-c keeps what was made"
else echo "    exit $rc, made $made"; bad "folder ctrl-c keeps what was made"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
