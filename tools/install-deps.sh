#!/bin/bash
# Installs the Debian packages impasto builds and tests with (run as root, or with sudo).
# python3-torch is only for the golden-file generators and the benchmarks: pass --reference to
# install it too. --fuzz adds clang and libFuzzer for `make fuzz`.
# --onnx adds node.js and npm, then onnxruntime-node into build/bench/node (tools/install-bench-node.sh,
# run as the invoking user) for `make bench-fast`; CI does not use it.
# --mpi adds Open MPI (build/impasto-mpi, tests/cli/test_mpi.sh) and Slurm with munge
# (tests/cli/test_slurm.sh starts a one-node cluster; docs/cluster.md).
# --serve adds libmicrohttpd (impasto serve), and for the page's browser test Debian's chromium, node.js
# and npm, then playwright-core into build/node (tools/install-browser-node.sh, as the invoking user).
# --video adds FFmpeg's libraries (`impasto video`) and, for the optical flow's golden-file generator
# and benchmark only, OpenCV's Python module and opencv-doc (its example clips).
set -euo pipefail
# The library and CLI; then the tests' own needs: the Python package's (cffi in ABI mode, pytest,
# numpy, PIL, venv, setuptools and wheel to build the wheel offline), man for the man page, pkg-config
# for the install check, curl and wget for tools/fetch-models.sh (it uses either).
pkgs=(gcc make libopenblas-openmp-dev libpng-dev libjpeg-dev libcjson-dev
      python3 python3-cffi python3-pytest python3-numpy python3-pil python3-venv python3-setuptools python3-wheel
      man-db pkg-config bsdutils curl wget)
onnx=0
serve=0
for arg in "$@"; do
    case "$arg" in
    --reference) pkgs+=(python3-torch python3-numpy python3-pil) ;;
    --fuzz) pkgs+=(clang-14 libclang-rt-14-dev) ;;
    --mpi) pkgs+=(libopenmpi-dev openmpi-bin slurm-wlm munge) ;;
    --video) pkgs+=(libavformat-dev libavcodec-dev libswscale-dev libavutil-dev pkg-config
                    python3-opencv opencv-doc python3-numpy) ;;
    --onnx)
        # node.js and npm only when missing: a node.js that brings its own npm (NodeSource's nodejs
        # package, or one installed by hand) conflicts with Debian's npm package.
        command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
        command -v npm >/dev/null 2>&1 || pkgs+=(npm)
        pkgs+=(python3-torch python3-numpy python3-pil); onnx=1 ;;
    --serve)
        pkgs+=(libmicrohttpd-dev chromium)
        command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
        command -v npm >/dev/null 2>&1 || pkgs+=(npm)
        serve=1 ;;
    *) echo "install-deps.sh: unknown option $arg (--reference, --fuzz, --onnx, --serve, --mpi, --video)" >&2; exit 2 ;;
    esac
done
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
if [ "$onnx" -eq 1 ]; then
    # npm writes into the project's build/ folder: as the user who called sudo, if any.
    if [ -n "${SUDO_USER:-}" ] && [ "$(id -u)" -eq 0 ]; then
        sudo -u "$SUDO_USER" sh "$(dirname "$0")/install-bench-node.sh"
    else
        sh "$(dirname "$0")/install-bench-node.sh"
    fi
fi
if [ "$serve" -eq 1 ]; then
    if [ -n "${SUDO_USER:-}" ] && [ "$(id -u)" -eq 0 ]; then
        sudo -u "$SUDO_USER" sh "$(dirname "$0")/install-browser-node.sh"
    else
        sh "$(dirname "$0")/install-browser-node.sh"
    fi
fi
