#!/bin/sh
# tools/fetch-models.sh against a local HTTP server on 127.0.0.1 that serves ../shared/models/upstream
# as a mirror (MODELS_MIRROR=URL, URL/<path under --dest>) and as a stand-in for GitHub's pinned
# addresses, and misbehaves on request: a good run downloads, checks and converts every model; a second
# run downloads and converts nothing; a wrong checksum, a connection dropped mid-file and a 404 each fail
# with one line naming the file and the reason, leaving no file and no model behind.
# Run from the repository root (as `make test` does); IMPASTO_BUILD (default build) holds the impasto
# binary, UPSTREAM (default ../shared/models/upstream) the files to serve. About 20 s.
# shellcheck disable=SC2034 # some variables are read only by the checks that `check` evals
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "not ok $1"; fail=$((fail + 1)); [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/# /'; }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${3:-}"; fi; }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit; }

UP=${UPSTREAM:-../shared/models/upstream}
B=${IMPASTO_BUILD:-build}/impasto
S=tools/fetch-models.sh
L=tools/models.list
if [ ! -d "$UP" ]; then echo "ok fetch-models # SKIP no $UP"; finish; fi
if ! command -v python3 >/dev/null 2>&1; then echo "ok fetch-models # SKIP no python3 for the test server"; finish; fi
if [ ! -x "$B" ]; then echo "ok fetch-models # SKIP no $B (make)"; finish; fi

T=$(mktemp -d) || exit 1
export TMPDIR="$T" # fetch-models.sh's own scratch file too
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM
trap 'cleanup; trap - EXIT; exit 129' HUP

# The server: GET /MODE/PATH serves $UP/PATH, where MODE is
#   good     the file as it is
#   corrupt  the file with its middle byte changed
#   drop     a Content-Length for the whole file, half of it, then the connection closed
#   missing  404
# and GET /gh/OWNER/REPO/COMMIT/PATH serves the file routes.txt maps that address to (404 if none).
# It writes its port to port.txt and every request's path to requests.log.
cat >"$T/server.py" <<'EOF'
import http.server, os, sys
root, routes_file, port_file, log_file = sys.argv[1:5]
routes = {}
for line in open(routes_file):
    key, _, value = line.rstrip("\n").partition(" ")
    routes[key] = value

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *args):
        pass
    def send(self, code, body, length=None):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
    def do_GET(self):
        with open(log_file, "a") as log:
            log.write(self.path + "\n")
        mode, _, rel = self.path.lstrip("/").partition("/")
        if mode == "gh":
            local = routes.get(rel)
        elif ".." in rel.split("/"):
            local = None
        else:
            local = os.path.join(root, rel)
        if mode == "missing" or local is None or not os.path.isfile(local):
            return self.send(404, b"404 Not Found\n")
        data = open(local, "rb").read()
        if mode == "corrupt":
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
        elif mode == "drop":
            return self.send(200, data[: len(data) // 2], length=len(data))
        elif mode not in ("good", "gh"):
            return self.send(404, b"unknown mode\n")
        self.send(200, data)

httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
httpd.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(httpd.server_address[1]))
os.rename(port_file + ".tmp", port_file)
httpd.serve_forever()
EOF

# The stand-in for GitHub: each pinned address of tools/models.list maps to the file in $UP; the
# C header that holds the param file as a byte array is made from it here, as `xxd -i` would.
P=$UP/fast-neural-style/transformernet.param.bin
{ echo 'static const unsigned char styletransfer_param_bin[] = {'
  od -An -v -tx1 "$P" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
  echo '};'; } >"$T/param.h"
grep '^[0-9a-f]' "$L" | while read -r sum dest url kind; do
    rel=${url#https://raw.githubusercontent.com/}
    if [ "$kind" = c-array ]; then echo "$rel $T/param.h"; else echo "$rel $UP/$dest"; fi
done >"$T/routes.txt"

python3 "$T/server.py" "$UP" "$T/routes.txt" "$T/port.txt" "$T/requests.log" 2>"$T/server.err" &
server=$!
i=0
while [ ! -s "$T/port.txt" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$T/port.txt" ]; then bad "test server starts" "$(cat "$T/server.err")"; finish; fi
URL=http://127.0.0.1:$(cat "$T/port.txt")
: >"$T/requests.log"

# run NAME ARGS...: tools/fetch-models.sh ARGS..., stdout in $T/NAME.out, stderr in $T/NAME.err, status rc.
run() {
    name=$1; shift
    if command -v timeout >/dev/null 2>&1; then set -- timeout 60 "$@"; fi
    "$@" >"$T/$name.out" 2>"$T/$name.err"
    rc=$?
}
requests() { wc -l <"$T/requests.log" | tr -d ' '; }
# leftovers DIR: files whose names are temporary ones, or none.
leftovers() { find "$1" -name '.*part*' 2>/dev/null; }
last_err() { tail -n 1 "$T/$1.err"; }
n_files=$(grep -c '^[0-9a-f]' "$L")

# 1. A good run from the mirror: every file, checked; every model, converted.
D=$T/up M=$T/models
run good env MODELS_MIRROR="$URL/good" sh "$S" --dest "$D" --models "$M" --convert "$B"
check "good run succeeds" '[ $rc -eq 0 ]' "status $rc: $(cat "$T/good.err")"
check "good run fetches every listed file once" '[ "$(requests)" -eq "$n_files" ]' "$(requests) requests for $n_files files"
R=$(pwd)
(cd "$D" && awk '/^[0-9a-f]/ {print $1 "  " $2}' "$R/$L" | sha256sum -c --quiet) >"$T/sums.out" 2>&1
check "good run: every file has its listed checksum" '[ $? -eq 0 ]' "$(head -n 3 "$T/sums.out")"
nm=0
for m in vgg19 adain lst-r31 candy mosaic pointilism rain_princess udnie; do [ -s "$M/$m.safetensors" ] && nm=$((nm + 1)); done
check "good run converts the 8 models" '[ $nm -eq 8 ]' "$(ls "$M")"
"$B" convert adain "$UP/adain" -o "$T/adain.safetensors" 2>/dev/null
"$B" convert ncnn-transformernet --param "$P" "$UP/fast-neural-style/candy.bin" -o "$T/candy.safetensors" 2>/dev/null
check "models are those impasto makes from the upstream files" \
    'cmp -s "$M/adain.safetensors" "$T/adain.safetensors" && cmp -s "$M/candy.safetensors" "$T/candy.safetensors"'
check "good run leaves no temporary file" '[ -z "$(leftovers "$T/up")$(leftovers "$M")" ]' "$(leftovers "$T/up") $(leftovers "$M")"
check "good run reports what it did" 'grep -q "$n_files downloaded, 0 already present" "$T/good.out" && grep -q "8 converted" "$T/good.out"' "$(cat "$T/good.out")"

# 2. The same again: nothing downloaded (no request at all), nothing converted.
before=$(requests)
touch "$T/stamp"
run again env MODELS_MIRROR="$URL/good" sh "$S" --dest "$D" --models "$M" --convert "$B"
check "second run succeeds" '[ $rc -eq 0 ]' "status $rc: $(cat "$T/again.err")"
check "second run downloads nothing" '[ "$(requests)" -eq "$before" ] && grep -q " 0 downloaded, $n_files already present" "$T/again.out"' "$(cat "$T/again.out")"
check "second run converts nothing" 'grep -q " 0 converted" "$T/again.out" && [ -z "$(find "$M" -newer "$T/stamp")" ]' "$(cat "$T/again.out")"

# 3. A file present with the wrong bytes is fetched again; its model is made again.
echo damaged >"$D/fast-neural-style/candy.bin"
run repair env MODELS_MIRROR="$URL/good" sh "$S" --dest "$D" --models "$M" --convert "$B" --only candy
check "a damaged file is downloaded again" '[ $rc -eq 0 ] && cmp -s "$D/fast-neural-style/candy.bin" "$UP/fast-neural-style/candy.bin" && grep -q "1 downloaded, 1 already present" "$T/repair.out"' \
    "status $rc: $(cat "$T/repair.out" "$T/repair.err")"
check "and its model is converted again" 'grep -q "1 converted" "$T/repair.out" && cmp -s "$M/candy.safetensors" "$T/candy.safetensors"'

# 4. The pinned original addresses (here served by the stand-in for GitHub), the param file taken out of
# its C header.
run github env FETCH_MODELS_GITHUB_RAW="$URL/gh" sh "$S" --dest "$T/gh" --models "$T/ghm" --convert "$B" --only candy
check "original addresses: param from its C byte array, checked" '[ $rc -eq 0 ] && cmp -s "$T/gh/fast-neural-style/transformernet.param.bin" "$P"' \
    "status $rc: $(cat "$T/github.err")"
check "original addresses: candy converted" 'cmp -s "$T/ghm/candy.safetensors" "$T/candy.safetensors"'

# 5. Failures, with curl and with wget when both are there: one line naming the file and the reason,
# non-zero status, nothing left with a final or a temporary name, no model.
getters=curl
command -v curl >/dev/null 2>&1 || getters=""
command -v wget >/dev/null 2>&1 && getters="$getters wget"
E=adain/encoder_opt_quantized.pb
fails() { # fails NAME MODE PATTERN
    pat=$3
    for g in $getters; do
        d=$T/f-$1-$g
        run "$1-$g" env FETCH_MODELS_GETTER=$g MODELS_MIRROR="$URL/$2" \
            sh "$S" --dest "$d/up" --models "$d/models" --convert "$B" --only adain --retries 2
        line=$(last_err "$1-$g")
        check "$1 ($g): fails with one line naming the file and why" \
            '[ $rc -ne 0 ] && case $line in "fetch-models: $E: "*$pat) true ;; *) false ;; esac' "status $rc: $line"
        check "$1 ($g): nothing left behind" \
            '[ -z "$(find "$d" -type f)" ]' "$(find "$d" -type f)"
    done
}
fails "wrong checksum" corrupt "checksum mismatch, expected sha256 53a82b4677eb16faee31ab85f8e11de2fa71e490d11a2a6cd21e68071e349ca8, got [0-9a-f]*, from $URL/corrupt/$E; nothing kept"
fails "connection dropped mid-file" drop "2 attempts, from $URL/drop/$E; nothing kept"
check "dropped connection: tried again" 'grep -q "trying again (2 of 2)" "$T/connection dropped mid-file-curl.err"' "$(cat "$T/connection dropped mid-file-curl.err")"
for g in $getters; do
    check "dropped connection ($g): says short read" 'grep -q "connection dropped mid-file, short read" "$T/connection dropped mid-file-$g.err"'
done
fails "404" missing "HTTP 404, from $URL/missing/$E; nothing kept"

# 6. A failing convert leaves no model: a stand-in impasto that fails.
printf '#!/bin/sh\necho "impasto convert: cannot open it: broken on purpose" >&2\nexit 1\n' >"$T/bad-impasto"
chmod +x "$T/bad-impasto"
run badconv env MODELS_MIRROR="$URL/good" sh "$S" --dest "$D" --models "$T/bm" --convert "$T/bad-impasto" --only candy
check "failed convert: one line, no model" \
    '[ $rc -ne 0 ] && [ "$(last_err badconv)" = "fetch-models: converting candy failed: impasto convert: cannot open it: broken on purpose; no model written" ] && [ -z "$(find "$T/bm" -type f)" ]' \
    "status $rc: $(cat "$T/badconv.err"); $(find "$T/bm" -type f)"

# 7. Usage errors.
run usage sh "$S" --only nonsense
check "unknown model: usage error" '[ $rc -eq 2 ] && grep -q "unknown model .nonsense." "$T/usage.err"' "status $rc: $(cat "$T/usage.err")"

finish
