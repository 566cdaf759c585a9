#!/bin/sh
# impasto transfer --mask, the proof of issue #20: with two styles and a half/half mask, each half of
# the picture is closer by `impasto eval`'s style numbers (Gram style loss, sliced Wasserstein
# distance, colour) to its own style than to the other. Prints the table of docs/transfer-mask.md.
#
#   sh tools/transfer-mask-proof.sh CONTENT STYLE_A STYLE_B [SIZE [ITERATIONS [OUTDIR]]]
#
# Left half (the mask's black) takes STYLE_A, right half (white) STYLE_B. Needs build/impasto,
# models/vgg19.safetensors and /usr/bin/python3 with PIL (for the mask and the crops only).
set -e
C=$1 A=$2 B=$3 SIZE=${4:-256} ITERS=${5:-200} OUT=${6:-/tmp/impasto-mask-proof}
IMPASTO=${IMPASTO:-build/impasto}
[ -n "$B" ] || { echo "usage: $0 CONTENT STYLE_A STYLE_B [SIZE [ITERATIONS [OUTDIR]]]" >&2; exit 2; }
mkdir -p "$OUT"
/usr/bin/python3 - "$C" "$OUT/mask.png" <<'PY'
import sys
from PIL import Image
w, h = Image.open(sys.argv[1]).size
m = Image.new("L", (w, h), 0)
m.paste(255, (w // 2, 0, w, h))
m.save(sys.argv[2])
PY
"$IMPASTO" transfer -c "$C" -s "$A,$B" --mask "$OUT/mask.png" --image-size "$SIZE" --num-iterations "$ITERS" \
    --seed 1 --save-iter 0 --print-iter 0 -o "$OUT/masked.png"
/usr/bin/python3 - "$OUT/masked.png" "$C" "$OUT" <<'PY'
import sys
from PIL import Image
out, content, d = Image.open(sys.argv[1]), Image.open(sys.argv[2]).convert("RGB"), sys.argv[3]
w, h = out.size
content = content.resize((w, h), Image.BICUBIC)
for name, box in (("left", (0, 0, w // 2, h)), ("right", (w // 2, 0, w, h))):
    out.crop(box).save("%s/%s.png" % (d, name))
    content.crop(box).save("%s/content_%s.png" % (d, name))
PY
echo "| half (its style) | style loss vs A | style loss vs B | SWD vs A | SWD vs B | colour vs A | colour vs B |"
echo "|---|---|---|---|---|---|---|"
for half in left right; do
    row="| $half ($( [ $half = left ] && echo A || echo B )) "
    for S in "$A" "$B"; do
        "$IMPASTO" eval -c "$OUT/content_$half.png" -s "$S" --json "$OUT/$half.png" >"$OUT/eval_${half}_$(basename "$S").json"
    done
    row=$(/usr/bin/python3 - "$OUT/eval_${half}_$(basename "$A").json" "$OUT/eval_${half}_$(basename "$B").json" "$row" <<'PY'
import json, sys
def first(p):
    return json.load(open(p))["results"][0]
a, b = first(sys.argv[1]), first(sys.argv[2])
cells = []
for k in ("style_loss", "swd", "color"):
    cells += ["%.4g" % a[k], "%.4g" % b[k]]
print(sys.argv[3] + "| " + " | ".join(cells) + " |")
PY
)
    echo "$row"
done
