#!/bin/bash
# docs/print-size.md's table: impasto fast on tubingen.jpg (1024x768, candy) untiled and tiled under
# --memory 200 (exact statistics with the exact and a 32-pixel halo, statistics estimated from 512 and
# 768 pixels): wall time and peak RSS (/usr/bin/time -v), PSNR/SSIM against the untiled run.
# Run from the repository root: bash bench/fast-print-size.sh [OUTDIR]
B=build/impasto; C=../shared/images/content/tubingen.jpg; O=${1:-/tmp/fast-print-size}
mkdir -p "$O"
run() { local tag=$1; shift; /usr/bin/time -v $B fast -m candy -c $C -q "$@" -o $O/$tag.png 2> $O/$tag.time; echo "$tag wall $(grep Elapsed $O/$tag.time | awk '{print $NF}') rss_kb $(grep Maximum $O/$tag.time | awk '{print $NF}')"; }
run untiled --tile 0
run exact --memory 200
run est512 --memory 200 --norm-stats estimate --stats-side 512
run est768 --memory 200 --norm-stats estimate --stats-side 768
run halo32 --memory 200 --tile-halo 32
for t in exact est512 est768 halo32; do echo "$t: $($B compare $O/untiled.png $O/$t.png)"; done
