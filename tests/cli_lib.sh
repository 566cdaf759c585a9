# Shared by tests/cli/*.sh (sourced, not run; it lives outside tests/cli/ so tests/run.sh does not
# take it for a test). Run from the repository root; IMPASTO_BUILD names the build folder.
# Gives: B (the binary), T (a scratch folder removed on exit), ok/bad/skip counting into pass/fail,
# expect, and pictures: png_size, png_make (PY, python3, writes them; empty when there is none).
# EXPECT_LINES (default 2: a message and a usage hint) bounds expect's stderr.
B=${IMPASTO_BUILD:-build}/impasto
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0

ok()   { pass=$((pass + 1)); echo "ok $1"; }
bad()  { fail=$((fail + 1)); echo "not ok $1"; [ -f "$T/err" ] && sed 's/^/    /' "$T/err" | head -5; }
skip() { echo "ok $1 # SKIP $2"; }

# expect NAME EXIT_CODE STDERR_PATTERN -- command...: the exit code, and a message matching the
# pattern in at most EXPECT_LINES lines of stderr.
expect() {
    name=$1 code=$2 pat=$3; shift 4
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$T/err" && [ "$lines" -le "${EXPECT_LINES:-2}" ]; then ok "$name"
    else echo "    exit $rc (wanted $code), stderr:"; bad "$name"; fi
}

PY=$(command -v /usr/bin/python3 || command -v python3)

# png_size FILE: "WxH" from the PNG's IHDR chunk (bytes 16..23, big-endian).
png_size() {
    od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d\n", $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'
}

# png_make FILE W H CHANNELS: an 8-bit PNG of diagonal stripes with 1 (grey), 2 (grey and alpha),
# 3 (RGB) or 4 (RGBA) channels, for the kinds of picture impasto's own tools do not write.
png_make() {
    $PY - "$@" <<'PYEOF'
import struct, sys, zlib
path, w, h, ch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b''.join(b'\x00' + bytes((x * 7 + y * 3 + c * 50) % 256 for x in range(w) for c in range(ch)) for y in range(h))
ctype = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, ctype, 0, 0, 0)) +
                       chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PYEOF
}
