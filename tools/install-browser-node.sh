#!/bin/sh
# Installs playwright-core (the browser automation library alone: it drives the chromium that is
# installed and downloads no browser) into a project folder for the page's browser test
# (tests/browser/test_page.js, run by tests/cli/test_serve.sh): nothing is installed globally, and
# `make clean` removes it with the rest of build/. --ignore-scripts: playwright-core's package has
# no install step that the test needs.
#   sh tools/install-browser-node.sh [DIR]      (default build/node; needs node and npm)
# PLAYWRIGHT_CORE_VERSION picks the version (default: the one the test was written against).
set -eu
dir=${1:-build/node}
version=${PLAYWRIGHT_CORE_VERSION:-1.65.2}
command -v npm >/dev/null 2>&1 || { echo "install-browser-node.sh: npm not found (bash tools/install-deps.sh --serve)" >&2; exit 1; }
mkdir -p "$dir"
[ -f "$dir/package.json" ] || printf '{"name": "impasto-browser-tests", "private": true}\n' >"$dir/package.json"
cd "$dir"
npm install --ignore-scripts --no-audit --no-fund --save-exact "playwright-core@$version"
node -e "require('playwright-core'); console.log('playwright-core', require('playwright-core/package.json').version, 'ready in', process.cwd())"
