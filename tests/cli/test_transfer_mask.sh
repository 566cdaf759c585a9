#!/bin/sh
# impasto transfer --mask (issue #20: guided Gram matrices, Gatys et al. 2017) as a user meets it:
# a mask of two gray levels with two styles runs, untiled and in forced exact and random tiles,
# and writes the picture; soft masks (one per style) run; a mask of another shape runs with one
# warning line that it is stretched; and the bad inputs: the levels not matching the styles, a
# mask with --style-blend-weights, a count of soft masks that is not the styles', a missing mask.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
EXPECT_LINES=1
. tests/cli_lib.sh
MODEL=models/vgg19.safetensors
C=examples/images/horses.jpg
S=examples/images/scream.jpg

if [ -z "$PY" ]; then skip "transfer --mask" "no python3 to draw the masks"; echo "$pass passed, $fail failed"; exit 0; fi
# mask FILE W H KIND: half (black left, white right), three (three bands), ramp0/ramp1 (soft)
mask() {
    $PY - "$@" <<'PYEOF'
import struct, sys, zlib
path, w, h, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def v(x):
    if kind == "half": return 0 if x < w // 2 else 255
    if kind == "three": return (0, 128, 255)[min(2, 3 * x // w)]
    r = round(255 * x / (w - 1))
    return r if kind == "ramp1" else 255 - r
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b''.join(b'\x00' + bytes(v(x) for x in range(w)) for y in range(h))
open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) +
                       chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PYEOF
}
mask "$T/half.png" 773 512 half      # horses.jpg's shape
mask "$T/three.png" 773 512 three
mask "$T/square.png" 100 100 half
mask "$T/r0.png" 60 40 ramp0
mask "$T/r1.png" 60 40 ramp1
RUN="--image-size 64 --num-iterations 2 --save-iter 0 --print-iter 1 --seed 1"

for how in "untiled:--tile 0" "exact:--tile 32" "random:--tile 32 --tiling random"; do
    name=${how%%:*} opts=${how#*:}
    rm -f "$T/o.png"
    if "$B" transfer -m $MODEL -c $C -s $S,$C --mask "$T/half.png" -o "$T/o.png" $RUN $opts >"$T/out" 2>"$T/err" &&
       [ "$(png_size "$T/o.png")" = 64x42 ] && grep -q "iteration 2/2" "$T/out" &&
       [ -z "$(grep -v '^64x42: [0-9]* tiles, L-BFGS history 2$' "$T/err")" ]; then
        ok "mask of two levels, two styles, $name"
    else
        bad "mask of two levels, two styles, $name"
    fi
done
rm -f "$T/o.png"
if "$B" transfer -m $MODEL -c $C -s $S,$C --mask "$T/r0.png,$T/r1.png" -o "$T/o.png" $RUN >"$T/out" 2>"$T/err" &&
   [ "$(png_size "$T/o.png")" = 64x42 ]; then
    ok "soft masks, one per style"
else
    bad "soft masks, one per style"
fi
expect "mask of another shape: stretched" 0 "warning: the mask .*square.png (100x100) has another shape than the content (773x512): it is stretched over it" -- \
    "$B" transfer -m $MODEL -c $C -s $S,$C --mask "$T/square.png" -o "$T/o.png" $RUN
expect "levels not matching the styles" 2 "the mask has 3 gray levels for 2 style images" -- \
    "$B" transfer -m $MODEL -c $C -s $S,$C --mask "$T/three.png" -o "$T/o2.png" $RUN
if [ ! -e "$T/o2.png" ]; then ok "refused mask writes nothing"; else bad "refused mask writes nothing"; fi
expect "mask with blend weights" 2 "--mask gives each style its own region: no --style-blend-weights" -- \
    "$B" transfer -m $MODEL -c $C -s $S,$C --mask "$T/half.png" --style-blend-weights 1,2 -o "$T/o2.png"
expect "soft masks not one per style" 2 "--mask has 2 files for 3 style images" -- \
    "$B" transfer -m $MODEL -c $C -s $S,$C,$S --mask "$T/r0.png,$T/r1.png" -o "$T/o2.png"
expect "missing mask" 1 "nomask.png" -- \
    "$B" transfer -m $MODEL -c $C -s $S,$C --mask "$T/nomask.png" -o "$T/o2.png" $RUN
expect "mask equal to the output" 2 "the output .*half.png is also an input" -- \
    "$B" transfer -m $MODEL -c $C -s $S,$C --mask "$T/half.png" -o "$T/half.png" $RUN

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
