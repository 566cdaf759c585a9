#!/bin/sh
# impasto attention as a user meets it: bad options get one clear line and nothing written, a run
# writes its picture (quiet when piped, progress on a terminal), folders, masks, several paintings,
# Ctrl-C keeps the old output and exits 130.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
. tests/cli_lib.sh
C=examples/images/horses.jpg
S=examples/images/scream.jpg
ADAIN=models/adain.safetensors
if [ ! -s $ADAIN ]; then skip "attention" "no $ADAIN (make models)"; echo "$pass passed, $fail failed"; exit 0; fi

expect "no style" 2 "no style image" -- "$B" attention -c $C
expect "temperature 0" 2 "--temperature must be greater than 0" -- "$B" attention -c $C -s $S -o "$T/a.png" -t 0
expect "temperature negative" 2 "--temperature must be between 0" -- "$B" attention -c $C -s $S -o "$T/a.png" -t -1
expect "temperature too small" 2 "temperature must be between 0.0001 and 100" -- "$B" attention -c $C -s $S -o "$T/a.png" -t 1e-9 --content-size 32
expect "even patch" 2 "patch side must be odd" -- "$B" attention -c $C -s $S -o "$T/a.png" --patch 4 --content-size 32
expect "patch larger than the painting's map" 2 "5x5 patch is larger than painting 1's relu4_1 feature map (4x4)" -- \
    "$B" attention -c $C -s $S -o "$T/a.png" --patch 5 --content-size 32 --style-size 32
expect "weight count" 2 "has 1 values for 2 paintings" -- "$B" attention -c $C -s $S,$S --style-weights 1
expect "wrong model" 2 "needs a model of kind 'adain'" -- "$B" attention -m models/vgg19.safetensors -c $C -s $S -o "$T/a.png" --content-size 32
expect "output is an input" 2 "" -- "$B" attention -c $C -s $S -o $S
if ls "$T" | grep -q '^a\.png'; then bad "nothing written on bad input"; else ok "nothing written on bad input"; fi

# A run: quiet when piped; several paintings with weights; style swap.
"$B" attention -c $C -s $S -o "$T/att.png" --content-size 64 --style-size 64 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ] && [ "$(png_size "$T/att.png")" = "64x42" ]; then ok "attention run"
else bad "attention run"; fi
"$B" attention -c $C -s $S,$C -o "$T/two.png" --content-size 64 --style-size 48 --style-weights 3,1 --alpha 0.7 -q
if [ $? -eq 0 ] && [ -s "$T/two.png" ]; then ok "two paintings"; else bad "two paintings"; fi
"$B" attention -c $C -s $S -o "$T/swap.png" --content-size 64 --style-size 64 --patch 3 --hard -q
if [ $? -eq 0 ] && [ -s "$T/swap.png" ] && ! cmp -s "$T/swap.png" "$T/att.png"; then ok "style swap"; else bad "style swap"; fi
"$B" attention -c $C -s $S -o "$T/tiled.png" --content-size 96 --style-size 64 --tile 32 -q
if [ $? -eq 0 ] && [ -s "$T/tiled.png" ]; then ok "tiled run"; else bad "tiled run"; fi
# --json names what was written.
"$B" attention -c $C -s $S -o "$T/j.png" --content-size 48 --style-size 48 --json >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q '"command":.*"attention"' "$T/out" && grep -q "j.png" "$T/out"; then ok "--json"; else bad "--json"; sed 's/^/    /' "$T/out"; fi

# A mask: a two-level PNG, one painting per level.
$PY - "$T/mask.png" <<'PYEOF'
import struct, sys, zlib
w, h = 32, 24
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b''.join(b'\x00' + bytes(0 if x < w // 2 else 255 for x in range(w)) for y in range(h))
open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) +
                               chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PYEOF
"$B" attention -c $C -s $S,$C --mask "$T/mask.png" -o "$T/masked.png" --content-size 64 --style-size 48 -q
if [ $? -eq 0 ] && [ -s "$T/masked.png" ]; then ok "mask"; else bad "mask"; fi
expect "mask levels" 2 "the mask has 2 gray levels for 1 style image" -- "$B" attention -c $C -s $S --mask "$T/mask.png" -o "$T/m.png" --content-size 32

# Folders: every pair.
mkdir -p "$T/in"; cp $C "$T/in/a.jpg"; cp $C "$T/in/b.jpg"
"$B" attention -c "$T/in" -s $S -o "$T/outdir" --content-size 48 --style-size 48 -q
if [ $? -eq 0 ] && [ -s "$T/outdir/a_scream.png" ] && [ -s "$T/outdir/b_scream.png" ]; then ok "folders"; else bad "folders"; fi

# Progress on a terminal; Ctrl-C keeps the old output.
on_tty() { script -qec "$*" /dev/null; }
on_tty "$B" attention -c $C -s $S -o "$T/tty.png" --content-size 96 --style-size 64 --tile 32 >"$T/out" 2>&1
if grep -q "wrote $T/tty.png" "$T/out" && grep -q "ETA" "$T/out"; then ok "progress on a terminal"; else bad "progress on a terminal"; fi
echo precious >"$T/int.png"
"$B" attention -c $C -s $S -o "$T/int.png" --content-size 2048 --style-size 256 --patch 3 --tile 64 >"$T/out" 2>"$T/err" &
pid=$!
sleep 3; kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && [ "$(cat "$T/int.png")" = precious ] && grep -q interrupted "$T/err"; then ok "ctrl-c"
else echo "    exit $rc"; bad "ctrl-c"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
