#!/bin/sh
# `make fuzz`: regenerates the seeds, runs each fuzz target for FUZZ_SECONDS, and minimises every
# crash into fuzz/regressions/<target>/ (where tests/test_fuzz_regressions.c replays it).
# Usage: FUZZ_DIR=build/fuzz FUZZ_SECONDS=60 sh fuzz/run.sh png jpeg ...
# Prints one line per target (executions, seconds, crashes); exits non-zero if any crashed.
D=${FUZZ_DIR:-build/fuzz}
S=${FUZZ_SECONDS:-60}
rm -rf "$D/seeds"
"$D/gen_seeds" "$D/seeds" || { echo "fuzz: seed generation failed"; exit 1; }
total_crashes=0
summary=""
for t in "$@"; do
    mkdir -p "$D/corpus/$t" "$D/crashes/$t" "$D/seeds/$t" "fuzz/regressions/$t"
    rm -f "$D/crashes/$t"/*
    echo "== fuzz_$t for ${S}s"
    start=$(date +%s)
    # The corpus folder (first) collects new inputs; seeds and past regressions are read only.
    dict=""
    case "$t" in safetensors | vgg_manifest) dict="-dict=fuzz/json.dict" ;; esac
    "$D/fuzz_$t" -max_total_time="$S" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $dict \
        -artifact_prefix="$D/crashes/$t/" "$D/corpus/$t" "$D/seeds/$t" "fuzz/regressions/$t" \
        >"$D/fuzz_$t.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$D/fuzz_$t.log" | tail -1)
    n=0
    for c in "$D/crashes/$t"/*; do
        [ -f "$c" ] || continue
        n=$((n + 1))
        name=$(basename "$c")
        out="fuzz/regressions/$t/$name"
        # Smallest input that still fails; the original is kept if minimising cannot reproduce it.
        "$D/fuzz_$t" -minimize_crash=1 -runs=20000 -exact_artifact_path="$out" "$c" >"$D/min_$t.log" 2>&1
        [ -f "$out" ] || cp "$c" "$out"
        echo "   crash: $out ($(wc -c <"$out") bytes); log: $D/fuzz_$t.log"
    done
    if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
        n=1; echo "   fuzz_$t exited with status $rc without an artifact; see $D/fuzz_$t.log"
    fi
    total_crashes=$((total_crashes + n))
    summary="$summary
fuzz_$t: ${execs:-?} executions in ${secs}s, $n crash(es)"
done
echo "$summary"
[ "$total_crashes" -eq 0 ]
