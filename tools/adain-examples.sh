#!/bin/sh
# The AdaIN examples of xunhuang1995/AdaIN-style's README, side by side (issue #4): each content
# photo with its painting, both cropped to 512 (AdaIN-style's -crop with its 512 defaults), alpha 1,
# laid out as content | style | impasto adain, one pair a row, into docs/images/adain-examples.jpg.
# Of the README's six pairs, the three whose images are in the field's shared test set are made
# (avril, modern and lenna, and impronte_d_artista and goeritz, are not there).
#
#   sh tools/adain-examples.sh [IMAGES_DIR] [OUT]      (make adain-examples; IMAGES defaults to ../shared/images)
set -e
IMAGES=${1:-../shared/images}
OUT=${2:-docs/images/adain-examples.jpg}
B=${IMPASTO_BUILD:-build}/impasto
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
set -- cornell.jpg woman-with-hat-matisse.jpg  chicago.jpg asheville.jpg  sailboat.jpg sketch.png
cells=""
while [ $# -ge 2 ]; do
    c=$1 s=$2; shift 2
    out="$T/$(basename "${c%.*}")_impasto.png"
    "$B" adain -c "$IMAGES/content/$c" -s "$IMAGES/style/$s" --crop --content-size 512 --style-size 512 -o "$out"
    cells="$cells $IMAGES/content/$c $IMAGES/style/$s $out"
done
# grid --crop shows the inputs' centred squares, the part the network saw.
# shellcheck disable=SC2086
"$B" grid -o "$OUT" --cols 3 --cell 224 --labels --crop $cells
echo "$OUT"
