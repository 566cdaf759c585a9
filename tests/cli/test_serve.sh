#!/bin/sh
# impasto serve: the JSON API over real sockets (tests/serve/test_api.py: every method, events,
# cancel, the queue, hostile requests, SIGTERM), then the page in a real browser
# (tests/browser/test_page.js: Debian's chromium driven by playwright-core from build/node).
# Each part is skipped, with its reason, when what it needs is missing. Run from the repository root.
. tests/cli_lib.sh
NODE_DIR=${IMPASTO_NODE_DIR:-build/node}

# Built without libmicrohttpd the command says so (exit 1) whatever its options; with it, a --bind
# that is no address is a usage mistake (exit 2) found before anything starts.
"$B" serve --bind not-an-address --data "$T/probe" >"$T/out" 2>"$T/err"
if grep -q "built without the server" "$T/err"; then
    expect "serve: built without the server says so" 1 "built without the server" -- "$B" serve
    skip "serve: the API" "impasto was built without libmicrohttpd (bash tools/install-deps.sh --serve, then make)"
    skip "serve: the page in a browser" "impasto was built without libmicrohttpd"
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]; exit
fi

expect "serve: a --bind that is not an address" 2 "takes an IPv4 or IPv6 address" -- "$B" serve --bind example.com --data "$T/d"
expect "serve: a port that is taken" 1 "cannot listen on 127.0.0.1 port" -- sh -c '
    "$1" serve --port 0 --data "$2/a" >"$2/ready" 2>/dev/null & p=$!
    for i in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$2/ready" && break; sleep 0.5; done
    port=$(sed -n "s#.*:\([0-9]*\)/\$#\1#p" "$2/ready")
    "$1" serve --port "$port" --data "$2/b"; rc=$?; kill -TERM $p; wait $p; exit $rc' sh "$B" "$T"
EXPECT_LINES=3 expect "serve: a non-loopback --bind warns" 0 "warning: listening on 0.0.0.0" -- sh -c '
    "$1" serve --bind 0.0.0.0 --port 0 --data "$2/c" >"$2/ready2" & p=$!
    for i in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$2/ready2" && break; sleep 0.5; done
    kill -TERM $p; wait $p' sh "$B" "$T"

if [ -z "$PY" ]; then
    skip "serve: the API" "no python3"
elif [ ! -f models/candy.safetensors ] || [ ! -f models/adain.safetensors ] || [ ! -f models/vgg19.safetensors ] || [ ! -f models/lst-r31.safetensors ]; then
    skip "serve: the API" "models/ lacks candy, adain, lst-r31 or vgg19 (make models)"
else
    IMPASTO_MODEL_DIR=$PWD/models $PY tests/serve/test_api.py "$B" >"$T/api" 2>&1
    sed 's/^/    /' "$T/api"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T/api" | tail -1)
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    if [ -n "$line" ]; then pass=$((pass + p)); fail=$((fail + f)); else bad "serve: the API test did not finish"; fi
fi

if ! command -v node >/dev/null 2>&1; then
    skip "serve: the page in a browser" "no node.js (bash tools/install-deps.sh --serve)"
elif [ ! -d "$NODE_DIR/node_modules/playwright-core" ]; then
    skip "serve: the page in a browser" "no playwright-core in $NODE_DIR (bash tools/install-deps.sh --serve)"
elif ! command -v chromium >/dev/null 2>&1; then
    skip "serve: the page in a browser" "no chromium (bash tools/install-deps.sh --serve)"
elif [ ! -f models/candy.safetensors ] || [ ! -f models/adain.safetensors ] || [ ! -f models/vgg19.safetensors ]; then
    skip "serve: the page in a browser" "models/ lacks candy, adain or vgg19 (make models)"
else
    IMPASTO_MODEL_DIR=$PWD/models node tests/browser/test_page.js "$B" "$NODE_DIR/node_modules" "$T/browser" \
        "${IMPASTO_SCREENSHOTS:-$T/browser/shots}" >"$T/page" 2>&1
    sed 's/^/    /' "$T/page"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T/page" | tail -1)
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    if [ -n "$line" ]; then pass=$((pass + p)); fail=$((fail + f)); else bad "serve: the browser test did not finish"; fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
