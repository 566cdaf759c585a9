#!/bin/sh
# The Python package (python/): builds the wheel with this build's libimpasto.so bundled, installs
# it into a fresh venv and runs python/tests against the installed package (python/run_tests.sh).
# Prints pytest's summary as "N passed, N failed" for tests/run.sh. A sanitizer build's library
# cannot be loaded into an uninstrumented Python, so that build skips it, saying so.
B=${IMPASTO_BUILD:-build}
case "$B" in *san*) echo "ok python package # SKIP $B is a sanitizer build"; echo "0 passed, 0 failed"; exit 0 ;; esac
log=$(mktemp); trap 'rm -f "$log"' EXIT
bash python/run_tests.sh "$B/libimpasto.so" >"$log" 2>&1
rc=$?
cat "$log"
summary=$(grep -E '^=*[ ]*[0-9]+ (passed|failed)' "$log" | tail -1)
p=$(echo "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); f=$(echo "$summary" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
e=$(echo "$summary" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+')
f=$(( ${f:-0} + ${e:-0} ))
[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
echo "${p:-0} passed, $f failed"
[ $rc -eq 0 ]
