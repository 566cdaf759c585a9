#!/bin/sh
# Faults and hostile command lines (docs/robustness.md): out of memory, a full disk, a killed run,
# and option values no user should give. Each must end in one clear line and exit 1 (failure) or
# 2 (usage), never a crash, and never cost the user an existing file.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
# A case the machine cannot stage (no `mount`, a sanitizer build under `ulimit -v`) is skipped
# with its reason, not failed.
EXPECT_LINES=1
. tests/cli_lib.sh
MODEL=models/vgg19.safetensors
C=examples/images/horses.jpg
S=examples/images/scream.jpg
MNT="$T/small"
cleanup() {
    umount "$MNT" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# A complete PNG ends with its IEND chunk (a half-written one does not).
png_complete() { [ -s "$1" ] && tail -c 12 "$1" | grep -q IEND; }
no_temp_files() { ! ls "$1" | grep -q '\.tmp-'; }

# ---- hostile command lines (gaps in tests/cli/test_cli.sh) ----
R="$B transfer -m $MODEL -c $C -s $S"
expect "init conflict" 2 "--init random conflicts with --init-image" -- $R --init random --init-image $C
expect "init conflict, other order" 2 "--init random conflicts with --init-image" -- $R --init-image $C --init random
expect "NaN weight" 2 "--content-weight expects a number, got 'nan'" -- $R --content-weight nan
expect "infinite weight" 2 "--style-weight must be between 0 and 1e+12, got inf" -- $R --style-weight inf
expect "overflowing weight" 2 "--tv-weight must be between 0 and 1e+12, got '1e999'" -- $R --tv-weight 1e999
expect "negative weight" 2 "--content-weight must be between 0 and 1e+12" -- $R --content-weight -5
expect "negative iterations" 2 "--num-iterations must be between 0 and 1000000, got -1" -- $R --num-iterations -1
expect "huge integer" 2 "--image-size must be between 16 and 16384, got '99999999999999999999'" -- $R --image-size 99999999999999999999
expect "fractional integer" 2 "--seed expects a whole number, got '1.5'" -- $R --seed 1.5
expect "empty value" 2 "--threads expects a whole number, got ''" -- $R --threads ""
expect "trailing junk" 2 "--learning-rate expects a number, got '3x'" -- $R --learning-rate 3x
expect "huge list" 2 "--scales takes at most" -- $R --scales 16,32,64,128,256,512,1024,2048,4096
expect "too many styles" 2 "at most 32 style images" -- $R -s $(printf "$S,%.0s" $(seq 33))
expect "layer weights vs space-separated layers" 2 "has 1 values for 2 style layers" -- $R --style-layers "relu1_1 relu2_1" --style-layer-weights 5
expect "layer weights vs empty list items" 2 "has 3 values for 2 style layers" -- $R --style-layers "relu1_1,,relu2_1," --style-layer-weights 5,1,2
expect "empty style lists" 2 "-s expects a file name or a comma-separated list" -- $R $(for i in $(seq 40); do printf -- "-s , "; done)
expect "too many style lists" 2 "at most 32 style images" -- $R $(for i in $(seq 20); do printf -- "-s $S,$S "; done)
expect "unknown output format" 2 "cannot tell the format of '$T/out.bmp'" -- $R -o "$T/out.bmp"
expect "output folder missing" 1 "the folder $T/none is missing" -- $R -o "$T/none/out.png"
expect "content is a folder, output an image" 2 "-c is a folder, so -o must be a folder" -- $R -c "$T" -o "$T/o.png"
expect "content is a device" 1 "/dev/zero is not a regular file" -- $R -c /dev/zero -o "$T/o.png"
expect "model is a device" 1 "/dev/zero is not a regular file" -- $B transfer -m /dev/zero -c $C -s $S -o "$T/o.png"
expect "size over the pixel limit" 1 "over the limit" -- $R --image-size 16384 --num-iterations 1 -o "$T/o.png"

# ---- out of memory: a 512 px transfer under shrinking address-space limits ----
# Each limit must end in "out of memory" (exit 1, one line) or, if the machine happens to fit
# the run in it, in success; at least one must fail. ASan reserves terabytes of address space,
# so a sanitizer build cannot start under any such limit: then the case is skipped.
# (An inner shell, so its "Aborted" notice goes to /dev/null too.) The binary's own libraries
# (OpenBLAS's buffers, FFmpeg's, libmicrohttpd's) take about 0.5 GB of address space before main;
# OpenBLAS retries a failed mmap at start forever, hence the timeouts.
if ! timeout 60 sh -c 'ulimit -v 700000 && "$1" version' sh "$B" >/dev/null 2>&1; then
    skip "out of memory" "the binary cannot start under ulimit -v 700000 (sanitizer build?)"
else
    oom_seen=0 oom_ok=1
    for kb in 700000 900000 1100000; do
        (ulimit -v $kb && exec timeout 600 $R -o "$T/oom.png" --image-size 512 --num-iterations 2 --save-iter 0 -q) \
            >"$T/out" 2>"$T/err"
        rc=$?
        lines=$(wc -l <"$T/err")
        if [ $rc -eq 1 ] && grep -q "out of memory" "$T/err" && [ "$lines" -eq 1 ]; then
            oom_seen=1
        elif [ $rc -ne 0 ]; then
            echo "    ulimit -v $kb: exit $rc"; oom_ok=0; cp "$T/err" "$T/err.oom"
        fi
    done
    [ -f "$T/err.oom" ] && cp "$T/err.oom" "$T/err"
    if [ $oom_ok -eq 1 ] && [ $oom_seen -eq 1 ]; then ok "out of memory"; else bad "out of memory"; fi
fi

# ---- a full disk: a 48 KB tmpfs holds one intermediate picture but not two ----
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=48k tmpfs "$MNT" 2>"$T/mount.err"; then
    skip "disk full" "cannot mount a small tmpfs: $(head -1 "$T/mount.err")"
    skip "disk full keeps the last good intermediate" "no tmpfs"
else
    echo "precious" >"$MNT/full.png"
    # The old output is 9 bytes, so the first 128 px intermediate (~25 KB) still fits.
    $R -o "$MNT/full.png" --image-size 128 --num-iterations 4 --save-iter 1 --init image --seed 1 \
        >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "No space left on device" "$T/err" && [ "$(wc -l <"$T/err")" -le 2 ] &&
        [ "$(cat "$MNT/full.png")" = "precious" ] && no_temp_files "$MNT"; then
        ok "disk full"
    else
        echo "    exit $rc (wanted 1)"; ls -la "$MNT" | sed 's/^/    /'; bad "disk full"
    fi
    # The intermediates that fitted are whole; the first that did not is named in the warning
    # and absent, and nothing after it was written either.
    k=1 whole=1
    while [ -e "$MNT/full_$k.png" ]; do png_complete "$MNT/full_$k.png" || whole=0; k=$((k + 1)); done
    if [ $k -ge 2 ] && [ $whole -eq 1 ] && grep -q "warning: cannot write $MNT/full_$k.png" "$T/err" &&
        [ -z "$(ls "$MNT" | grep -v -e '^full\.png$' -e '^full_[0-9]*\.png$')" ]; then
        ok "disk full keeps the last good intermediate"
    else
        bad "disk full keeps the last good intermediate"
    fi
    umount "$MNT"
fi

# ---- a killed run: every intermediate picture on disk is whole (temp file + rename; a kill
# during a save can leave that save's temporary file, never a half-written picture) ----
: >"$T/log"
$R -o "$T/k.png" --image-size 64 --num-iterations 100000 --save-iter 1 --print-iter 1 >"$T/log" 2>"$T/err" &
pid=$!
i=0; while [ "$(grep -c '^iteration' "$T/log")" -lt 5 ] 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL $pid
wait $pid 2>/dev/null
n=0 whole=1
for f in "$T"/k_*.png; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    png_complete "$f" || { whole=0; echo "    $f is not a whole PNG"; }
done
if [ $n -ge 3 ] && [ $whole -eq 1 ] && [ ! -e "$T/k.png" ]; then ok "killed run keeps whole intermediates ($n)"
else echo "    $n intermediates"; bad "killed run keeps whole intermediates"; fi

# ---- --save-iter: the numbered intermediates, the final picture not duplicated ----
# (In a folder of its own: a kill -9 above may have left a temporary file behind.)
mkdir "$T/si"
$R -o "$T/si/s.jpg" --image-size 48 --num-iterations 6 --save-iter 2 --seed 3 -q >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ -s "$T/si/s_2.jpg" ] && [ -s "$T/si/s_4.jpg" ] && [ ! -e "$T/si/s_6.jpg" ] &&
    [ -s "$T/si/s.jpg" ] && no_temp_files "$T/si"; then
    ok "save-iter"
else
    echo "    exit $rc"; bad "save-iter"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
