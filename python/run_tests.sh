#!/usr/bin/env bash
# Tests the wheel, not the source tree:
#   python/run_tests.sh LIBSO [PYTEST ARGS...]     e.g. python/run_tests.sh build-py/libimpasto.so
# Builds the wheel with LIBSO bundled (build_wheel.sh) into a temporary folder, makes a
# `python3 -m venv --system-site-packages` venv there (cffi, numpy, PIL and pytest come from the
# system: Debian's python3-cffi python3-numpy python3-pil python3-pytest), installs the wheel
# with `pip install --no-index`, and runs python/tests with that venv's Python from outside the
# source tree. Exits with pytest's status; "no tests collected" (5) counts as a failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -lt 1 ]; then
    echo "usage: $0 LIBSO [PYTEST ARGS...]" >&2
    exit 2
fi
so=$1
shift
. "$here/_python.sh"
py=$(pick_python) || exit 1
if ! "$py" -c 'import pytest' 2>/dev/null; then
    echo "$0: $py has no pytest (apt-get install -y python3-pytest)" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/impasto-test.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
wheel=$("$here/build_wheel.sh" "$so" "$tmp/dist") || { echo "$0: building the wheel failed" >&2; exit 1; }
echo "wheel: $(basename "$wheel")"
"$py" -m venv --system-site-packages "$tmp/venv" || { echo "$0: python3 -m venv failed" >&2; exit 1; }
PIP_ROOT_USER_ACTION=ignore "$tmp/venv/bin/python" -m pip install --quiet --no-index \
    --disable-pip-version-check "$wheel" || { echo "$0: installing the wheel failed" >&2; exit 1; }

# OpenMP's default active wait burns the cores other processes need on a busy machine; tiny
# test runs are far steadier when idle workers sleep (override by setting it).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

mkdir "$tmp/run"
cd "$tmp/run" || exit 1
env -u PYTHONPATH -u IMPASTO_LIBRARY IMPASTO_TEST_INSTALLED=1 PYTHONDONTWRITEBYTECODE=1 \
    "$tmp/venv/bin/python" -m pytest -p no:cacheprovider --rootdir "$here/tests" -q -rs \
    "$here/tests" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "$0: pytest collected no tests: failing" >&2
    rc=1
fi
exit "$rc"
