#!/bin/sh
# Runs every test binary given as an argument, then the CLI tests; prints one summary line
# "N passed, N failed" that totals them all. Exit status non-zero if anything failed.
passed=0; failed=0; bad=""
log=$(mktemp); trap 'rm -f "$log"' EXIT
for t in "$@" tests/cli/*.sh; do
    [ -e "$t" ] || continue
    echo "== $t"
    case "$t" in *.sh) sh "$t" >"$log" 2>&1 ;; *) "$t" >"$log" 2>&1 ;; esac
    rc=$?
    cat "$log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -n "$line" ]; then
        p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
        passed=$((passed + p)); failed=$((failed + f))
    fi
    if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "${f:-0}" -eq 0 ]; }; then
        failed=$((failed + 1)); echo "!! $t exited with status $rc"
    fi
    [ $rc -ne 0 ] && bad="$bad $t"
done
[ -n "$bad" ] && echo "failing:$bad"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
