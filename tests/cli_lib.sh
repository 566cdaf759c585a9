# Shared by tests/cli/*.sh (sourced, not run; it lives outside tests/cli/ so tests/run.sh does not
# take it for a test). Run from the repository root; IMPASTO_BUILD names the build folder.
# Gives: B (the binary), T (a scratch folder removed on exit), ok/bad/skip counting into pass/fail,
# and expect. EXPECT_LINES (default 2: a message and a usage hint) bounds expect's stderr.
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
