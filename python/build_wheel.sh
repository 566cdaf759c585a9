#!/usr/bin/env bash
# Builds the impasto wheel with a given libimpasto.so bundled inside it.
#   python/build_wheel.sh LIBSO OUTDIR     e.g. python/build_wheel.sh build/libimpasto.so build/dist
# LIBSO's symlinks are resolved; the file goes into the package as impasto/_lib/<its SONAME>
# (libimpasto.so.0), or impasto/_lib/libimpasto.so when it has none. The package is built from a
# temporary copy of python/ (the source tree is left untouched), offline, with no build
# isolation, into OUTDIR as impasto-<version>-py3-none-<platform>.whl. Prints the wheel's path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 2 ]; then
    echo "usage: $0 LIBSO OUTDIR" >&2
    exit 2
fi
so=$(readlink -f -- "$1") || { echo "$0: $1: no such file" >&2; exit 1; }
[ -f "$so" ] || { echo "$0: $1: no such file" >&2; exit 1; }
mkdir -p -- "$2"
outdir=$(cd -- "$2" && pwd)
. "$here/_python.sh"
py=$(pick_python)

# SONAME from the dynamic section (readelf or objdump, whichever is installed).
soname=""
if command -v readelf >/dev/null 2>&1; then
    soname=$(readelf -d "$so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p' | head -n 1)
elif command -v objdump >/dev/null 2>&1; then
    soname=$(objdump -p "$so" 2>/dev/null | awk '$1 == "SONAME" {print $2; exit}')
fi
case "$soname" in
    libimpasto.so*) ;;
    *) soname=libimpasto.so ;;
esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/impasto-wheel.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
cp -- "$here/pyproject.toml" "$here/setup.py" "$here/README.md" "$stage/"
mkdir -p "$stage/impasto/_lib"
cp -- "$here"/impasto/*.py "$here/impasto/py.typed" "$stage/impasto/"
cp -- "$so" "$stage/impasto/_lib/$soname"
chmod 755 "$stage/impasto/_lib/$soname"

before=$(ls -1 "$outdir"/impasto-*.whl 2>/dev/null || true)
PIP_ROOT_USER_ACTION=ignore "$py" -m pip wheel --quiet --no-deps --no-build-isolation --no-index \
    --disable-pip-version-check -w "$outdir" "$stage" >&2
wheel=$(ls -1t "$outdir"/impasto-*.whl | head -n 1)
case "$wheel" in
    *-py3-none-any.whl) echo "$0: built a pure wheel ($wheel): the platform tag is missing" >&2; exit 1 ;;
esac
"$py" - "$wheel" "impasto/_lib/$soname" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
if sys.argv[2] not in names:
    sys.exit("%s does not contain %s" % (sys.argv[1], sys.argv[2]))
PYEOF
echo "$wheel"
