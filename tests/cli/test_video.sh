#!/bin/sh
# `impasto video` and `impasto eval --temporal` as a user meets them: usage mistakes exit 2 and bad
# videos exit 1 with one line and nothing left under the output's name; clips made here (frames
# drawn by Python, encoded by impasto itself) keep their size, rate, frame count, time stamps,
# rotation and audio; Ctrl-C keeps a playable OUT_interrupted.mp4; temporal consistency lowers
# the warping error. Run from the repository root (as `make test` does).
. tests/cli_lib.sh
R=fuzz/regressions/video
DOC=/usr/share/doc/opencv-doc/examples/data
M=models/candy.safetensors

"$B" video -c none.mp4 -m candy >"$T/out" 2>"$T/err"
if grep -q "built without video support" "$T/err"; then
    expect "video: built without video support" 1 "without video support" -- "$B" video -c x.mp4 -m candy
    expect "eval --temporal: built without video support" 1 "without video support" -- "$B" eval --temporal a.mp4 --reference b.mp4
    echo "ok video # SKIP built without FFmpeg's libraries (bash tools/install-deps.sh --video; make)"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi

# frames DIR N W H DX: N PNG frames of W x H, a smooth pattern moving DX pixels right per frame.
frames() {
    mkdir -p "$1"
    $PY - "$@" <<'PYEOF'
import math, struct, sys, zlib
d, n, w, h, dx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
for k in range(n):
    rows = []
    for y in range(h):
        r = bytearray(b'\x00')
        for x in range(w):
            u = x - dx * k
            v = 0.5 + 0.25 * math.sin(u / 3.0) + 0.25 * math.cos(y / 4.0 + u / 7.0)
            r += bytes((int(255 * v), int(255 * (1 - v)), int(128 + 100 * math.sin(y / 5.0))))
        rows.append(bytes(r))
    png = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
           chunk(b'IDAT', zlib.compress(b''.join(rows))) + chunk(b'IEND', b''))
    open('%s/f%03d.png' % (d, k), 'wb').write(png)
PYEOF
}

# info FILE FIELD: one field of `impasto video --info --json`.
info() { "$B" video --info --json -c "$1" 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

# nothing_left NAME: no output and no temporary file in $T.
nothing_left() {
    if [ ! -e "$T/o.mp4" ] && [ -z "$(ls -a "$T" | grep '^\.o\.mp4\.')" ]; then ok "$1: nothing left"; else bad "$1: nothing left"; fi
}

# ---- usage ----
expect "video: no input" 2 "no video" -- "$B" video -m candy -o "$T/o.mp4"
expect "video: no network" 2 "no network" -- "$B" video -c x.mp4 -o "$T/o.mp4"
expect "video: adain without painting" 2 "no painting" -- "$B" video --method adain -c x.mp4 -o "$T/o.mp4"
expect "video: fast with -s" 2 "its own style" -- "$B" video -m candy -s x.jpg -c x.mp4
expect "video: bad weight" 2 "temporal-weight" -- "$B" video -m candy -c x.mp4 --temporal-weight 2
expect "eval --temporal without reference" 2 "needs --reference" -- "$B" eval --temporal x.mp4

# ---- a clip made here: 12 frames of 64x48 moving 1 px a frame, 10 fps ----
frames "$T/fr" 12 64 48 1
"$B" video --method none -c "$T/fr" -o "$T/clip.mp4" --fps 10 --crf 0 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(info "$T/clip.mp4" frames)" = 12 ] && [ "$(info "$T/clip.mp4" width)x$(info "$T/clip.mp4" height)" = 64x48 ] &&
   [ "$(info "$T/clip.mp4" fps)" = "10/1" ]; then ok "video: frames -> mp4 (12 frames, 64x48, 10 fps)"; else bad "video: frames -> mp4 (12 frames, 64x48, 10 fps)"; fi
"$B" video --method none -c "$T/clip.mp4" -o "$T/back/" >"$T/out" 2>"$T/err"
n=$(ls "$T/back" 2>/dev/null | grep -c '^frame_.*\.png$')
psnr=$("$B" compare "$T/fr/f005.png" "$T/back/frame_000006.png" 2>/dev/null | grep -o 'PSNR[^0-9]*[0-9.]*' | grep -o '[0-9.]*$')
if [ "$n" = 12 ] && [ -n "$psnr" ] && $PY -c "import sys; sys.exit(0 if float('$psnr') > 35 else 1)"; then
    ok "video: mp4 -> frames (12, lossless crf 0: PSNR $psnr dB)"; else echo "    $n frames, PSNR $psnr"; bad "video: mp4 -> frames"; fi
"$B" video --method none -c "$T/clip.mp4" -o "$T/copy.mkv" --size 32 >"$T/out" 2>"$T/err"
[ "$(info "$T/copy.mkv" width)x$(info "$T/copy.mkv" height)" = 32x24 ] && ok "video: --size 32 gives 32x24" || bad "video: --size 32 gives 32x24"

# ---- bad input: one line, exit 1 (2 for a name that is no container), nothing under the output's name ----
expect "video: missing file" 1 "cannot open" -- "$B" video --method none -c "$T/none.mp4" -o "$T/o.mp4"
nothing_left "missing file"
printf 'not a video at all' >"$T/text.mp4"
expect "video: not a video" 1 "not a video FFmpeg can read" -- "$B" video --method none -c "$T/text.mp4" -o "$T/o.mp4"
nothing_left "not a video"
mkfifo "$T/fifo.mp4"
expect "video: a FIFO" 1 "not a regular file" -- "$B" video --method none -c "$T/fifo.mp4" -o "$T/o.mp4"
expect "video: no video stream" 1 "has no video stream" -- "$B" video --method none -c $R/no-video.wav -o "$T/o.mp4"
nothing_left "no video stream"
expect "video: unknown codec" 1 "unknown video codec (tag 'ZZZZ')" -- "$B" video --method none -c $R/unknown-codec.avi -o "$T/o.mp4"
nothing_left "unknown codec"
expect "video: zero frames" 1 "has no frames" -- "$B" video --method none -c $R/zero-frames.avi -o "$T/o.mp4"
nothing_left "zero frames"
expect "video: frame count lies" 1 "header lies" -- "$B" video --method none -c $R/lying-frame-count.avi -o "$T/o.mp4"
nothing_left "frame count lies"
expect "video: no index (truncated mp4)" 1 "not a video FFmpeg can read" -- "$B" video --method none -c $R/truncated-no-index.mp4 -o "$T/o.mp4"
"$B" video --method none -c "$T/clip.mp4" -o "$T/clip.mkv" >/dev/null 2>&1
size=$(wc -c <"$T/clip.mkv")
head -c $((size * 6 / 10)) "$T/clip.mkv" >"$T/trunc.mkv"
expect "video: truncated mkv" 1 "truncated" -- "$B" video --method none -c "$T/trunc.mkv" -o "$T/o.mp4"
nothing_left "truncated mkv"
$PY -c "
b = bytearray(open('$T/clip.mkv', 'rb').read())
for i in range(len(b) // 3, len(b) // 2): b[i] ^= 0x5a
open('$T/corrupt.mkv', 'wb').write(b)"
expect "video: corrupt mkv" 1 "damaged" -- "$B" video --method none -c "$T/corrupt.mkv" -o "$T/o.mp4"
nothing_left "corrupt mkv"
expect "video: unknown container" 2 "cannot tell the container" -- "$B" video --method none -c "$T/clip.mp4" -o "$T/o.xyz"
expect "video: output is the input" 2 "" -- "$B" video --method none -c "$T/clip.mp4" -o "$T/clip.mp4"
echo precious >"$T/keep.mp4"
"$B" video --method none -c "$T/text.mp4" -o "$T/keep.mp4" >/dev/null 2>&1
[ "$(cat "$T/keep.mp4")" = precious ] && ok "video: a failed run keeps the old output" || bad "video: a failed run keeps the old output"

# Odd sizes: 1x1 and 4097 wide encode (4:4:4 for odd sides) and read back; a fast network refuses 1x1.
frames "$T/one" 2 1 1 0
"$B" video --method none -c "$T/one" -o "$T/one.mp4" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && [ "$(info "$T/one.mp4" width)x$(info "$T/one.mp4" height)" = 1x1 ] && ok "video: 1x1 clip" || bad "video: 1x1 clip"
frames "$T/wide" 2 4097 2 0
"$B" video --method none -c "$T/wide" -o "$T/wide.mkv" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && [ "$(info "$T/wide.mkv" width)" = 4097 ] && ok "video: 4097 wide clip" || bad "video: 4097 wide clip"
if [ -f $M ]; then
    expect "video: 1x1 for a fast network" 2 "minimum 5x5" -- "$B" video -m $M -c "$T/one.mp4" -o "$T/o.mp4"
    nothing_left "1x1 for a fast network"
fi

# Rotation: a 90-degree display matrix written into the clip's track header is kept.
$PY - "$T/clip.mp4" "$T/rot.mp4" <<'PYEOF'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.find(b'tkhd')
assert i > 0 and b[i + 4] == 0
b[i + 44:i + 80] = struct.pack('>9i', 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
open(sys.argv[2], 'wb').write(b)
PYEOF
rot=$(info "$T/rot.mp4" rotation)
"$B" video --method none -c "$T/rot.mp4" -o "$T/rot2.mp4" >/dev/null 2>&1
if [ -n "$rot" ] && [ "$rot" != 0 ] && [ "$(info "$T/rot2.mp4" rotation)" = "$rot" ]; then ok "video: rotation $rot kept"; else bad "video: rotation kept ($rot)"; fi

# Variable frame rate and a frame count that is not the header's (OpenCV's tree.avi: 68 frames over
# 29.6 s, the header says 444): the time stamps, so the duration, are kept.
if [ -f $DOC/tree.avi ]; then
    "$B" video --method none -c $DOC/tree.avi -o "$T/tree.mkv" >/dev/null 2>"$T/err"
    if [ "$(info "$T/tree.mkv" frames)" = 68 ] && $PY -c "import sys; sys.exit(0 if abs($(info "$T/tree.mkv" duration) - 29.6) < 0.2 else 1)"; then
        ok "video: variable rate kept (68 frames, 29.6 s)"; else bad "video: variable rate kept"; fi
else
    skip "video: variable rate kept" "no $DOC/tree.avi (bash tools/install-deps.sh --video)"
fi

# Audio copied (OpenCV's Megamind.avi has a sound track), also when cut by --frames.
if [ -f $DOC/Megamind.avi ]; then
    "$B" video --method none -c $DOC/Megamind.avi --frames 10 --size 64 -o "$T/mm.mp4" >/dev/null 2>"$T/err"
    [ "$(info "$T/mm.mp4" audio)" = True ] && [ "$(info "$T/mm.mp4" frames)" = 10 ] && ok "video: audio copied" || bad "video: audio copied"
else
    skip "video: audio copied" "no $DOC/Megamind.avi (bash tools/install-deps.sh --video)"
fi

if [ ! -f $M ]; then
    echo "ok video: stylised runs # SKIP no $M (make models)"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi

# ---- stylised: per frame and consistent; the warping error falls ----
"$B" video -m $M -c "$T/clip.mp4" -o "$T/pf.mp4" --no-temporal --crf 0 --threads 2 >"$T/out" 2>"$T/err"
r1=$?
"$B" video -m $M -c "$T/clip.mp4" -o "$T/tc.mp4" --crf 0 --threads 2 --json >"$T/json" 2>"$T/err"
r2=$?
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ "$(info "$T/tc.mp4" frames)" = 12 ] &&
   [ "$($PY -c "import json,sys; print(json.load(open('$T/json'))['frames'])")" = 12 ]; then
    ok "video: candy, per frame and consistent"; else bad "video: candy, per frame and consistent"; fi
e1=$("$B" eval --temporal "$T/pf.mp4" --reference "$T/clip.mp4" --json 2>"$T/err" | $PY -c "import json,sys; print(json.load(sys.stdin)['warping_error'])")
e2=$("$B" eval --temporal "$T/tc.mp4" --reference "$T/clip.mp4" --json 2>"$T/err" | $PY -c "import json,sys; print(json.load(sys.stdin)['warping_error'])")
if [ -n "$e1" ] && [ -n "$e2" ] && $PY -c "import sys; sys.exit(0 if $e2 < 0.7 * $e1 else 1)"; then
    ok "eval --temporal: consistent $e2 < per-frame $e1"; else echo "    per-frame $e1, consistent $e2"; bad "eval --temporal: consistent below per-frame"; fi
"$B" eval --temporal "$T/clip.mp4" --reference "$T/clip.mp4" >"$T/out" 2>"$T/err"
grep -q "warping error 0.00" "$T/out" && ok "eval --temporal: the input against itself is near 0" || bad "eval --temporal: the input against itself"
expect "eval --temporal: more frames than the reference" 1 "more frames" -- "$B" eval --temporal "$T/clip.mp4" --reference "$T/one.mp4"

# Ctrl-C: the frames done become a playable OUT_interrupted.mp4, exit 130, OUT untouched.
# (a clip long enough to take many seconds even on an idle machine)
frames "$T/long" 150 320 240 1
"$B" video --method none -c "$T/long" -o "$T/long.mp4" >/dev/null 2>&1
"$B" video -m $M -c "$T/long.mp4" -o "$T/int.mp4" --threads 1 >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 1 300); do sleep 0.2; [ -n "$(ls -a "$T" | grep '^\.int\.mp4\.')" ] && [ "$i" -gt 5 ] && break; done
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && [ ! -e "$T/int.mp4" ] && [ -f "$T/int_interrupted.mp4" ] && [ "$(info "$T/int_interrupted.mp4" frames)" -ge 1 ] &&
   grep -q "int_interrupted.mp4" "$T/err" && [ -z "$(ls -a "$T" | grep '^\.int\.mp4\.')" ]; then
    ok "video: Ctrl-C keeps $(info "$T/int_interrupted.mp4" frames) frames in OUT_interrupted.mp4"
else echo "    exit $rc"; bad "video: Ctrl-C keeps the frames done"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
