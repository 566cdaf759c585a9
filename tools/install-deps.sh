#!/bin/bash
# Installs the Debian packages impasto builds and tests with (run as root, or with sudo).
# python3-torch/numpy/pil are only for the golden-file generators and the benchmarks:
# pass --reference to install them too. --fuzz adds clang and libFuzzer for `make fuzz`.
set -euo pipefail
pkgs=(gcc make libopenblas-openmp-dev libpng-dev libjpeg-dev libcjson-dev)
for arg in "$@"; do
    case "$arg" in
    --reference) pkgs+=(python3-torch python3-numpy python3-pil) ;;
    --fuzz) pkgs+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "install-deps.sh: unknown option $arg (--reference, --fuzz)" >&2; exit 2 ;;
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
