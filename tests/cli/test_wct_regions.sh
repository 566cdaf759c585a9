#!/bin/sh
# `impasto wct --mask` as a user meets it: one -s per gray level of the mask, each region whitened
# with its own statistics (bad level counts, several styles without a mask, a genes file among
# several styles, a mask with folders, a stretched mask: one line each), -o the mask refused, and
# forced tiles giving the untiled picture. Run from the repository root (as `make test` does).
. tests/cli_lib.sh
C=examples/images/horses.jpg
S=examples/images/scream.jpg

mkdir -p "$T/in"
expect "wct: two styles, no mask" 2 "one per region of a --mask" -- "$B" wct -c $C -s $S,$S -o "$T/o.png"
expect "wct: mask with a folder" 2 "not folders" -- "$B" wct -c "$T/in" -s $S --mask $C -o "$T/out"
echo "not genes" >"$T/g.genes.safetensors"
expect "wct: genes among several styles" 2 "a genes file stands for the only style" -- "$B" wct -c $C -s $S,"$T/g.genes.safetensors" --mask $C -o "$T/o.png"
expect "wct: missing mask" 1 "cannot open" -- "$B" wct -c $C -s $S --mask "$T/nomask.png" -o "$T/o.png"

if [ ! -f models/adain.safetensors ] || [ ! -f models/lst-r31.safetensors ]; then
    echo "ok wct regions runs # SKIP no models/adain.safetensors or models/lst-r31.safetensors (make models)"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi
if [ -z "$PY" ]; then
    echo "ok wct regions runs # SKIP no python3 to write the masks"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi

# Gray PNG masks written with python's standard library: two levels at the photo's aspect (left
# dark, right light), three levels, and two levels at another aspect.
"$PY" - "$T/mask.png" "$T/mask3.png" "$T/tall.png" <<'PY'
import struct, sys, zlib
def png(path, w, h, level):
    raw = b"".join(b"\x00" + bytes(level(x, y) for x in range(w)) for y in range(h))
    def chunk(t, c): return struct.pack(">I", len(c)) + t + c + struct.pack(">I", zlib.crc32(t + c) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png(sys.argv[1], 96, 64, lambda x, y: 30 if x < 48 else 220)
png(sys.argv[2], 96, 64, lambda x, y: 30 if x < 32 else 120 if x < 64 else 220)
png(sys.argv[3], 64, 96, lambda x, y: 30 if x < 32 else 220)
PY

SZ="--content-size 96 --style-size 64"
expect "wct: 3 levels for 2 styles" 2 "3 gray levels for 2 style images" -- "$B" wct -c $C -s $S,$C --mask "$T/mask3.png" $SZ -o "$T/o.png"
expect "wct: 2 levels for 1 style" 2 "2 gray levels for 1 style image" -- "$B" wct -c $C -s $S --mask "$T/mask.png" $SZ -o "$T/o.png"
"$B" wct -c $C -s $S,$C --mask "$T/mask.png" $SZ -o "$T/two.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(png_size "$T/two.png")" = "96x64" ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ]; then
    ok "wct: two regions"; else bad "wct: two regions"; fi
"$B" wct -c $C -s $S,$C --mask "$T/tall.png" $SZ --levels 1 -o "$T/tall_out.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q "64x96, another aspect ratio than the 773x512 picture: it is stretched" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then
    ok "wct: a stretched mask is one note"; else bad "wct: a stretched mask is one note"; fi
expect "wct: -o the mask" 2 "is also an input" -- "$B" wct -c $C -s $S,$C --mask "$T/mask.png" -o "$T/mask.png"

# Forced 32-pixel tiles: the per-region statistics gathered over the tiles give the untiled
# picture (PSNR over 60 dB: 8-bit rounding only).
"$B" wct -c $C -s $S,$C --mask "$T/mask.png" $SZ --tile 32 -o "$T/tiled.png" -q 2>"$T/err"
psnr=$("$B" compare "$T/two.png" "$T/tiled.png" --json | sed -n 's/.*"psnr": *\([0-9.]*\|null\).*/\1/p')
case "$psnr" in null) ok "wct: tiled = untiled (identical)" ;;
    "") bad "wct: tiled = untiled (no PSNR)" ;;
    *) if awk "BEGIN{exit !($psnr > 60)}"; then ok "wct: tiled = untiled (PSNR $psnr dB)"; else bad "wct: tiled = untiled (PSNR $psnr dB)"; fi ;; esac

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
