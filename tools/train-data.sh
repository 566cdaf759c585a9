#!/bin/bash
# Assembles a folder of free-licence photographs for `impasto train` from Debian packages:
# the photographs (not the illustrations) among the MATE and KDE Plasma desktop wallpapers.
# Usage: bash tools/train-data.sh [DIR]   (default data/train; `make train-data` runs it)
# Installs mate-backgrounds and plasma-workspace-wallpapers with apt-get when they are missing
# (as root), copies 23 photographs into DIR and writes DIR/README.md with each one's author and
# licence (docs/training.md has the same list).
set -euo pipefail
dir=${1:-data/train}

pkgs=""
for p in mate-backgrounds plasma-workspace-wallpapers; do
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

# Photographs only, chosen by eye: the other wallpapers in these packages are drawings or renders.
mate=(Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings Wood YellowFlower)
plasma=(BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am)

mkdir -p "$dir"
readme="$dir/README.md"
{
    echo "# Training photographs"
    echo
    echo "Made by \`tools/train-data.sh\` (\`make train-data\`) from Debian packages; each file keeps its licence."
    echo
    echo "| file | author | licence | source |"
    echo "|---|---|---|---|"
} >"$readme.tmp"

copyright=/usr/share/doc/mate-backgrounds/copyright
for n in "${mate[@]}"; do
    src=/usr/share/backgrounds/mate/nature/$n.jpg
    cp "$src" "$dir/mate-$n.jpg"
    # The Copyright lines of the stanza whose Files list this picture.
    who=$(awk -v f="nature/$n.jpg" '
        /^Files:/ { infiles = 1; match_ = 0 }
        infiles && index($0, f) { match_ = 1 }
        /^Copyright:/ { infiles = 0; if (match_) { sub(/^Copyright: */, ""); print; incopy = 1; next } }
        incopy && /^ / { sub(/^ */, ""); print; next }
        { incopy = 0 }' "$copyright" | sed 's/ *<[^>]*>//g' | paste -sd ';' | sed 's/;/; /g')
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
{
    echo
    echo "GPL-2+: /usr/share/common-licenses/GPL-2; LGPLv3: /usr/share/common-licenses/LGPL-3"
    echo "(the packages' copyright files: /usr/share/doc/mate-backgrounds/copyright,"
    echo "/usr/share/doc/plasma-workspace-wallpapers/copyright)."
} >>"$readme.tmp"
mv "$readme.tmp" "$readme"
echo "train-data: $(ls "$dir"/*.jpg | wc -l) photographs in $dir (licences in $readme)"
