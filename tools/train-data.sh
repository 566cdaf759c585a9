#!/bin/bash
# Assembles a folder of free-licence photographs for `impasto train` from Debian packages. Only real
# photographs (no drawings, renders, screenshots, textures or composites), chosen by eye on contact
# sheets, each with an author and a free licence stated by its package:
#   - the MATE, KDE Plasma and Lomiri (Ubuntu Touch 16.04 and 20.04) desktop wallpapers that are
#     photographs, and scikit-image's sample photographs (44, copied as shipped);
#   - KPhotoAlbum's demo album, Palapeli's puzzle photographs, scikit-learn's two sample photographs,
#     Scratch 1.4's photographic stage backgrounds, the GIMP manual's tone-mapping photographs,
#     Kalzium's and ExpEYES-17's photographs of laboratory kit, and GCompris' photographs of animals,
#     monuments, musicians and the sea, with the author, licence and Wikimedia Commons source its
#     credits files give for each (228, listed in tools/train-photos.py).
# Usage: bash tools/train-data.sh [DIR]   (default data/train; `make train-data` runs it)
# Installs mate-backgrounds, plasma-workspace-wallpapers, lomiri-wallpapers-16.04,
# lomiri-wallpapers-20.04 and python3-pil with apt-get when they are missing (as root). Every other
# package is fetched with `apt-get download` and unpacked in a temporary folder (nothing installed):
# python3-skimage, kphotoalbum, palapeli-data, python3-sklearn, scratch, gimp-help-en,
# gimp-help-common, kalzium-data, eyes17 and gcompris-qt-data (~130 MB of .debs). The 44 first
# photographs are copied as they are; tools/train-photos.py converts the 228 others to JPEG (quality 92,
# upright, at most 1024 px on the longer side; GCompris' are read out of its Qt .rcc resource files).
# 272 DISTINCT photographs. Then (with /usr/bin/python3 and Pillow) 5 square crops at random (seeded)
# positions of each photograph whose shorter side is at least 1000 px, each half that side and scaled
# to at most 768 px: 37 photographs give 185 crops, 457 files in all. DIR/README.md lists each file's
# author, licence and source (docs/training.md summarises them). Running it again remakes the same
# files; it stops with a one-line message when a package, a file or a licence statement is missing.
set -euo pipefail
dir=${1:-data/train}
CROPS=5

pkgs=""
for p in mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 python3-pil; do
    dpkg -s "$p" >/dev/null 2>&1 || pkgs="$pkgs $p"
done
if [ -n "$pkgs" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "train-data: needs the Debian packages$pkgs (run as root, or apt-get install them)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

# Photographs only, chosen by eye: the other wallpapers in these packages are drawings or renders
# (and gnome-backgrounds, ukui-wallpapers, sway-backgrounds and lomiri-wallpapers hold no
# photographs at all).
mate=(Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings Wood YellowFlower)
plasma=(BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am)
lomiri16=(aitzgorri_by_Aitzol_Berasategi Bridge_by_Sander_Klootwijk Dragonfly_by_Bolly free_by_Peter_Nerlich
          friends_by_Aitzol_Berasategi greentock_by_Peter_Nerlich life_by_Aitzol_Berasategi
          picosdeeuropa_by_Aitzol_Berasategi Picture_0B_by_freespace Picture_1A_by_freespace
          seeding_by_Clements_Engelhardt sunset_by_Aitzol_Berasategi Wine_by_Jakkub_Mede)
lomiri20=(Kleiber_by_Lukas_Baubkus)
# scikit-image's sample photographs with a stated free licence (skimage/data/_fetchers.py):
# name|author|licence. Left out: motorcycle and moon (no licence stated), the textures, the
# microscopy and medical images, and the drawings and test patterns.
skimage=("astronaut|NASA (Eileen Collins)|public domain"
         "camera|Lav Varshney|CC0"
         "chelsea|Stefan van der Walt|CC0"
         "coffee|Rachel Michetti (courtesy of Pikolo Espresso Bar)|CC0"
         "coins|Brooklyn Museum collection|no known copyright restrictions"
         "hubble_deep_field|NASA|public domain"
         "rocket|SpaceX|public domain")

mkdir -p "$dir"
readme="$dir/README.md"
{
    echo "# Training photographs"
    echo
    echo "Made by \`tools/train-data.sh\` (\`make train-data\`) from Debian packages; each file keeps its licence."
    echo "Files named \`*-cropN.jpg\` are crops of the photograph of the same name (same author and licence)."
    echo
    echo "| file | author | licence | source |"
    echo "|---|---|---|---|"
} >"$readme.tmp"

# The Copyright lines of the stanza whose Files list $2, from Debian copyright file $1, joined by "; ";
# with $3 = license, its License line instead.
stanza() {
    awk -v f="$2" -v want="${3:-copyright}" '
        /^Files:/ { infiles = 1; match_ = 0 }
        infiles && index($0, f) { match_ = 1 }
        /^Copyright:/ { infiles = 0; if (match_ && want == "copyright") { sub(/^Copyright: */, ""); print; incopy = 1; next } }
        /^License:/ { infiles = 0; if (match_ && want == "license") { sub(/^License: */, ""); print; match_ = 0 } }
        incopy && /^ / { sub(/^ */, ""); print; next }
        { incopy = 0 }' "$1" | sed 's/ *<[^>]*>//g' | paste -sd ';' | sed 's/;/; /g'
}

copyright=/usr/share/doc/mate-backgrounds/copyright
for n in "${mate[@]}"; do
    src=/usr/share/backgrounds/mate/nature/$n.jpg
    cp "$src" "$dir/mate-$n.jpg"
    who=$(stanza "$copyright" "nature/$n.jpg")
    echo "| mate-$n.jpg | ${who:-see $copyright} | GPL-2+ | Debian mate-backgrounds, $src |" >>"$readme.tmp"
done
for n in "${plasma[@]}"; do
    imgs=/usr/share/wallpapers/$n/contents/images
    src=$imgs/1920x1080.jpg
    [ -f "$src" ] || src=$(ls "$imgs"/*.jpg | head -1)
    cp "$src" "$dir/plasma-$n.jpg"
    meta=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['KPlugin']; print(', '.join(a.get('Name','') for a in m.get('Authors',[])) + '|' + m.get('License',''))" \
           "/usr/share/wallpapers/$n/metadata.json")
    echo "| plasma-$n.jpg | ${meta%%|*} | ${meta##*|} | Debian plasma-workspace-wallpapers, $src |" >>"$readme.tmp"
done
for v in 16 20; do
    pkg=lomiri-wallpapers-$v.04
    copyright=/usr/share/doc/$pkg/copyright
    if [ $v = 16 ]; then names=("${lomiri16[@]}"); else names=("${lomiri20[@]}"); fi
    for n in "${names[@]}"; do
        src=/usr/share/backgrounds/$n.jpg
        cp "$src" "$dir/lomiri-$n.jpg"
        echo "| lomiri-$n.jpg | $(stanza "$copyright" "$v.04/$n.jpg") | $(stanza "$copyright" "$v.04/$n.jpg" license) | Debian $pkg, $src |" >>"$readme.tmp"
    done
done

tmp=$(mktemp -d)
chmod 755 "$tmp"  # apt-get download runs as _apt where it can
trap 'rm -rf "$tmp"' EXIT
# apt-get download each package into $tmp and unpack it in $tmp/<package> (nothing is installed, its
# dependencies are not needed); one apt-get update first if the package lists are missing or stale.
updated=0
fetch() {
    local p
    for p in "$@"; do
        [ -d "$tmp/$p" ] && continue
        if ! (cd "$tmp" && apt-get download -qq "$p" >/dev/null 2>&1); then
            if [ $updated = 0 ] && [ "$(id -u)" -eq 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; updated=1; fi
            (cd "$tmp" && apt-get download -qq "$p" >/dev/null 2>&1) || {
                echo "train-data: cannot fetch the Debian package $p (apt-get download $p failed)" >&2; exit 1; }
        fi
        dpkg-deb -x "$tmp/$p"_*.deb "$tmp/$p"
    done
}

# scikit-image's sample photographs.
fetch python3-skimage
skdata=$(find "$tmp/python3-skimage" -type d -path "*/skimage/data" | head -1)
skver=$(dpkg-deb -f "$tmp"/python3-skimage_*.deb Version)
for e in "${skimage[@]}"; do
    IFS='|' read -r n who lic <<<"$e"
    src=$(ls "$skdata/$n".* | head -1)
    ext=${src##*.}
    cp "$src" "$dir/skimage-$n.$ext"
    echo "| skimage-$n.$ext | $who | $lic | Debian python3-skimage $skver, skimage/data/$n.$ext |" >>"$readme.tmp"
done

# The photographs of the other packages: tools/train-photos.py picks, converts and credits them.
fetch kphotoalbum palapeli-data python3-sklearn scratch gimp-help-en gimp-help-common kalzium-data eyes17 \
      gcompris-qt-data
/usr/bin/python3 "$(dirname "$0")/train-photos.py" "$tmp" "$dir" >>"$readme.tmp"

# Several crops of each large photograph: more, and more varied, training images (at another scale
# than the whole photo), though not more distinct scenes.
ncrops=0
if /usr/bin/python3 -c "import PIL" 2>/dev/null; then
    ncrops=$(/usr/bin/python3 - "$dir" "$CROPS" <<'EOF'
import glob, os, random, sys
from PIL import Image
d, k, made = sys.argv[1], int(sys.argv[2]), 0
for path in sorted(glob.glob(os.path.join(d, "*.jpg")) + glob.glob(os.path.join(d, "*.png"))):
    if "-crop" in path:
        continue
    im = Image.open(path).convert("RGB")
    w, h = im.size
    if min(w, h) < 1000:
        continue
    side = min(w, h) // 2
    rng = random.Random(os.path.basename(path))
    for i in range(1, k + 1):
        x, y = rng.randrange(w - side + 1), rng.randrange(h - side + 1)
        c = im.crop((x, y, x + side, y + side))
        if side > 768:
            c = c.resize((768, 768), Image.LANCZOS)
        c.save("%s-crop%d.jpg" % (os.path.splitext(path)[0], i), quality=92)
        made += 1
print(made)
EOF
)
else
    echo "train-data: /usr/bin/python3 with Pillow not found: no crops made (the photographs alone)" >&2
fi
{
    echo
    echo "Licences: the texts of GPL-2+, GPL-3, LGPL-3 and GFDL-1.2+ are in /usr/share/common-licenses;"
    echo "CC-BY-2.0, CC-BY-3.0, CC-BY-4.0, CC-BY-SA-3.0, CC-BY-SA-4.0 and CC0-1.0 are at"
    echo "https://creativecommons.org/licenses/ (and quoted in /usr/share/doc/lomiri-wallpapers-*/copyright);"
    echo "scikit-image's photographs as stated in skimage/data/_fetchers.py (the package: BSD-3-Clause);"
    echo "Palapeli's as in its collection/*.desktop files (FDL = GNU Free Documentation License);"
    echo "GCompris' as in the README beside each image in its .rcc files (most from Wikimedia Commons, whose"
    echo "page for each is given). \"Public Domain\" is as the package states it. The packages' copyright files:"
    echo "/usr/share/doc/<package>/copyright of each package in the source column (inside its .deb when only downloaded)."
    echo
    echo "$ncrops of the files are crops (5 per photograph with a shorter side of 1000 px or more, at"
    echo "seeded random positions, half that side, scaled to at most 768 px)."
} >>"$readme.tmp"
mv "$readme.tmp" "$readme"
n=$(ls "$dir" | grep -ciE '\.(jpg|png)$')
echo "train-data: $n images in $dir: $((n - ncrops)) photographs and $ncrops crops of them (licences in $readme)"
