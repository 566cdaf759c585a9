#!/bin/sh
# `impasto fast` at print size and with regions, as a user meets them: --mask with one network per
# gray level (bad level counts, several networks without a mask, a stretched mask: one line
# each), forced tiles giving the untiled picture (exact statistics), and the tiling options'
# bad values. Run from the repository root (as `make test` does).
. tests/cli_lib.sh
M=models/candy.safetensors
C=examples/images/horses.jpg

expect "fast: two networks, no mask" 2 "need a --mask" -- "$B" fast -m candy,mosaic -c $C -o "$T/o.png"
expect "fast: feather without mask" 2 "--feather goes with --mask" -- "$B" fast -m candy -c $C --feather 4 -o "$T/o.png"
mkdir -p "$T/in"
expect "fast: mask with a folder" 2 "not a folder" -- "$B" fast -m candy,mosaic -c "$T/in" --mask $C -o "$T/out"
expect "fast: tile not a multiple of 8" 2 "multiple of 8" -- "$B" fast -m candy -c $C --tile 30 -o "$T/o.png"
expect "fast: bad norm-stats" 2 "norm-stats" -- "$B" fast -m candy -c $C --norm-stats guess -o "$T/o.png"
expect "fast: memory below the option's floor" 2 "--memory must be between" -- "$B" fast -m candy -c $C --memory 1 -o "$T/o.png"

if [ ! -f $M ] || [ ! -f models/mosaic.safetensors ]; then
    echo "ok fast regions runs # SKIP no $M or models/mosaic.safetensors (make models)"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi

# Gray PNG masks written with python's standard library: two levels at the photo's aspect (left
# dark, right light), three levels, and two levels at another aspect.
python3 - "$T/mask.png" "$T/mask3.png" "$T/tall.png" <<'PY'
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

expect "fast: 3 levels for 2 networks" 2 "3 gray levels for 2 networks" -- "$B" fast -m candy,mosaic -c $C --mask "$T/mask3.png" --content-scale 8 -o "$T/o.png"
expect "fast: 2 levels for 1 network" 2 "2 gray levels for 1 network" -- "$B" fast -m candy --mask "$T/mask.png" -c $C --content-scale 8 -o "$T/o.png"
"$B" fast -m candy,mosaic -c $C --mask "$T/mask.png" --content-scale 8 -o "$T/two.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ -s "$T/two.png" ] && [ ! -s "$T/err" ]; then ok "fast: two regions"; else bad "fast: two regions"; fi
"$B" fast -m candy,mosaic -c $C --mask "$T/tall.png" --content-scale 8 -o "$T/tall_out.png" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q "64x96, another aspect ratio than the 773x512 picture: it is stretched" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then
    ok "fast: a stretched mask is one note"; else bad "fast: a stretched mask is one note"; fi
expect "fast: -o the mask" 2 "is also an input" -- "$B" fast -m candy,mosaic -c $C --mask "$T/mask.png" -o "$T/mask.png"

# Forced tiles with exact statistics: the untiled picture (PSNR over 60 dB: 8-bit rounding only).
"$B" fast -m candy -c $C --content-scale 4 --tile 0 -o "$T/whole.png" -q 2>"$T/err"
"$B" fast -m candy -c $C --content-scale 4 --tile 32 -o "$T/tiled.png" -q 2>>"$T/err"
psnr=$("$B" compare "$T/whole.png" "$T/tiled.png" --json | sed -n 's/.*"psnr": *\([0-9.]*\|null\).*/\1/p')
case "$psnr" in null) ok "fast: tiled = untiled (identical)" ;;
    *) if awk "BEGIN{exit !($psnr > 60)}"; then ok "fast: tiled = untiled (PSNR $psnr dB)"; else bad "fast: tiled = untiled (PSNR $psnr dB)"; fi ;; esac

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
