#!/bin/sh
# The attention comparison of README and docs/attention.md: four content/style pairs of the shared
# test images, each painted by adain, wct (two levels), attention (patch 1, T 0.05) and style swap
# (attention --patch 3 --hard), at 384 pixels (content and style, longest side); then `impasto
# eval` of each output (printed) and a sheet (content | style | the four outputs, one pair a row).
#
#   sh tools/attention-examples.sh [IMAGES_DIR] [OUT_SHEET] [WORK_DIR]
set -e
IMAGES=${1:-../shared/images}
OUT=${2:-docs/images/attention-compare.jpg}
W=${3:-$(mktemp -d)}
B=${IMPASTO_BUILD:-build}/impasto
SIZE="--content-size 384 --style-size 384"
mkdir -p "$W"
set -- tubingen.jpg starry_night.jpg  cornell.jpg woman-with-hat-matisse.jpg  chicago.jpg asheville.jpg  sailboat.jpg sketch.png
cells=""
while [ $# -ge 2 ]; do
    c=$1 s=$2; shift 2
    n=$(basename "${c%.*}")
    "$B" adain -c "$IMAGES/content/$c" -s "$IMAGES/style/$s" $SIZE -o "$W/${n}_adain.png" -q
    "$B" wct -c "$IMAGES/content/$c" -s "$IMAGES/style/$s" $SIZE -o "$W/${n}_wct.png" -q
    "$B" attention -c "$IMAGES/content/$c" -s "$IMAGES/style/$s" $SIZE -o "$W/${n}_attention.png" -q
    "$B" attention -c "$IMAGES/content/$c" -s "$IMAGES/style/$s" $SIZE --patch 3 --hard -o "$W/${n}_swap.png" -q
    echo "== $c / $s"
    "$B" eval -c "$IMAGES/content/$c" -s "$IMAGES/style/$s" "$W/${n}_adain.png" "$W/${n}_wct.png" \
        "$W/${n}_attention.png" "$W/${n}_swap.png"
    cells="$cells $IMAGES/content/$c $IMAGES/style/$s $W/${n}_adain.png $W/${n}_wct.png $W/${n}_attention.png $W/${n}_swap.png"
done
# shellcheck disable=SC2086
"$B" grid -o "$OUT" --cols 6 --cell 160 --labels $cells
echo "$OUT"
