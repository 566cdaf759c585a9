# Sourced by build_wheel.sh and run_tests.sh: picks a Python 3 that has cffi, setuptools and
# wheel (Debian's python3-cffi, python3-setuptools, python3-wheel live in /usr/bin/python3's
# dist-packages, which a python3 earlier on PATH, e.g. pyenv's, may not see). $PYTHON wins.
pick_python() {
    local c
    for c in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$c" >/dev/null 2>&1 &&
           "$c" -c 'import cffi, setuptools, wheel, numpy' >/dev/null 2>&1; then
            echo "$c"
            return 0
        fi
    done
    echo "no python3 with cffi, setuptools, wheel and numpy; as root: apt-get install -y python3-cffi python3-setuptools python3-wheel python3-numpy (or set PYTHON)" >&2
    return 1
}
