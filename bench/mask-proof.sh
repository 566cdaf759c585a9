#!/bin/bash
# Regions proof (issue #20): with a two-level mask (left half dark, right half light), each region
# of `impasto fast --mask` and `impasto wct --mask` should be closer, by `impasto eval`'s style
# numbers (Gram style loss, SWD, colour distance), to its own style than to the other region's.
# Each output is cut into its left and right parts, leaving out a margin of M pixels either side
# of the middle (the blended / decoded edge), and each part is measured against both styles.
# Prints a Markdown table; the pictures are kept in OUT (default /tmp/mask-proof).
#   bash bench/mask-proof.sh [CONTENT] [OUT]        (from the repository root, after make)
# Needs models/candy, mosaic, adain, lst-r31, vgg19 and ../shared/images (never committed).
set -euo pipefail
B=${IMPASTO_BUILD:-build}/impasto
SH=${SHARED:-../shared/images}
C=${1:-$SH/content/tubingen.jpg}
OUT=${2:-/tmp/mask-proof}
M=16
PY=/usr/bin/python3
mkdir -p "$OUT"

# The content at 512x384 (both commands then see the same photo), and the mask at its size.
$PY - "$C" "$OUT" <<'PY'
import sys
from PIL import Image
c, out = sys.argv[1], sys.argv[2]
im = Image.open(c).convert("RGB")
im = im.resize((512, round(512 * im.height / im.width)), Image.BICUBIC)
im.save(out + "/content.png")
m = Image.new("L", im.size, 30)
m.paste(220, (im.width // 2, 0, im.width, im.height))
m.save(out + "/mask.png")
PY

run() { echo "+ $*" >&2; "$@"; }
run "$B" fast -m candy,mosaic --mask "$OUT/mask.png" -c "$OUT/content.png" -o "$OUT/fast.png" -q
run "$B" wct -s "$SH/style/starry_night.jpg","$SH/style/the_scream.jpg" --mask "$OUT/mask.png" \
    -c "$OUT/content.png" --content-size 0 --style-size 512 -o "$OUT/wct.png" -q

# Left and right parts of each output (and of the content), the middle's margin left out.
$PY - "$OUT" $M <<'PY'
import sys
from PIL import Image
out, m = sys.argv[1], int(sys.argv[2])
for name in ("content", "fast", "wct"):
    im = Image.open("%s/%s.png" % (out, name)).convert("RGB")
    w, h = im.size
    im.crop((0, 0, w // 2 - m, h)).save("%s/%s_left.png" % (out, name))
    im.crop((w // 2 + m, 0, w, h)).save("%s/%s_right.png" % (out, name))
PY

row() {  # METHOD SIDE OWN_STYLE OTHER_STYLE
    local j own other
    j=$("$B" eval -c "$OUT/content_$2.png" -s "$3" "$OUT/$1_$2.png" --json)
    own=$(echo "$j" | $PY -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print("%.4g | %.4g | %.4f" % (r["style_loss"], r["swd"], r["color"]))')
    j=$("$B" eval -c "$OUT/content_$2.png" -s "$4" "$OUT/$1_$2.png" --json)
    other=$(echo "$j" | $PY -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print("%.4g | %.4g | %.4f" % (r["style_loss"], r["swd"], r["color"]))')
    echo "| $1 | $2 | $(basename "$3") | $own | $(basename "$4") | $other |"
}
echo "| method | region | own style | style loss | SWD | colour | other style | style loss | SWD | colour |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row fast left "$SH/style/candy.jpg" "$SH/style/mosaic.jpg"
row fast right "$SH/style/mosaic.jpg" "$SH/style/candy.jpg"
row wct left "$SH/style/starry_night.jpg" "$SH/style/the_scream.jpg"
row wct right "$SH/style/the_scream.jpg" "$SH/style/starry_night.jpg"
