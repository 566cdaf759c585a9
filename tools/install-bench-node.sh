#!/bin/sh
# Installs onnxruntime-node (onnxruntime's CPU build for node.js, prebuilt binaries in the npm
# package) into a bench-local folder for bench/fast_bench.py: nothing is installed globally, and
# `make clean` removes it with the rest of build/. --ignore-scripts: the package's install script
# only fetches GPU binaries, which the CPU benchmark does not use.
#   sh tools/install-bench-node.sh [DIR]      (default build/bench/node; needs node and npm)
# ORT_NODE_VERSION picks the version (default: the one the numbers in bench/README.md used).
set -eu
dir=${1:-build/bench/node}
version=${ORT_NODE_VERSION:-1.30.0}
command -v npm >/dev/null 2>&1 || { echo "install-bench-node.sh: npm not found (bash tools/install-deps.sh --onnx)" >&2; exit 1; }
mkdir -p "$dir"
[ -f "$dir/package.json" ] || printf '{"name": "impasto-bench-node", "private": true}\n' >"$dir/package.json"
cd "$dir"
npm install --ignore-scripts --no-audit --no-fund --save-exact "onnxruntime-node@$version"
node -e "require('onnxruntime-node'); console.log('onnxruntime-node', require('onnxruntime-node/package.json').version, 'ready in', process.cwd())"
