#!/bin/bash
# Assembles the unpaired domains a CycleGAN trains on (photo <-> painting) from free-licence images:
#   DIR/monet/    Claude Monet, 256x256   } from ../shared/images/paintings/{monet,vangogh}: hard links when
#   DIR/vangogh/  Van Gogh, 256x256       } DIR is on the same filesystem, copies otherwise
#   DIR/photos -> the photographs of `make train-data` (a symbolic link to its folder; tools/train-data.sh is
#                 run first when that folder has no README.md)
#   DIR/README.md the provenance and licences of the paintings, taken from paintings/README.md (the photos'
#                 are in their own folder's README.md)
# Usage: bash tools/gan-data.sh [DIR]   (default data/gan; `make gan-data` runs it). IMAGES=dir replaces
# ../shared/images, TRAIN_DATA=dir data/train. Nothing here is committed (data/ is git-ignored). Running it
# again changes nothing but what changed in the sources; it stops with a one-line message when the shared
# paintings are missing. The hard links share the read-only files of ../shared: replace a file, never edit
# one in place.
set -euo pipefail
dir=${1:-data/gan}
images=${IMAGES:-../shared/images}
train=${TRAIN_DATA:-data/train}
src=$images/paintings
here=$(cd "$(dirname "$0")" && pwd)

for d in monet vangogh; do
    if [ ! -d "$src/$d" ] || [ ! -f "$src/README.md" ]; then
        echo "gan-data: $src/$d not found (the shared folder beside the project; IMAGES=dir points elsewhere)" >&2
        exit 1
    fi
done

mkdir -p "$dir/monet" "$dir/vangogh"
linked=0 copied=0 kept=0
for d in monet vangogh; do
    for f in "$src/$d"/*.jpg; do
        t=$dir/$d/$(basename "$f")
        if [ "$t" -ef "$f" ] || { [ -f "$t" ] && cmp -s "$t" "$f"; }; then
            kept=$((kept + 1))
        elif ln -f "$f" "$t" 2>/dev/null; then
            linked=$((linked + 1))
        else
            cp -f "$f" "$t.tmp" && mv -f "$t.tmp" "$t"
            copied=$((copied + 1))
        fi
    done
    # Files the source no longer has.
    for t in "$dir/$d"/*; do
        [ -e "$src/$d/$(basename "$t")" ] || rm -f "$t"
    done
done
nm=$(ls "$dir/monet" | grep -c '\.jpg$' || true)
nv=$(ls "$dir/vangogh" | grep -c '\.jpg$' || true)

# The photo domain: make train-data's photographs, made first when missing.
if [ ! -f "$train/README.md" ]; then
    echo "gan-data: no photographs in $train yet: running tools/train-data.sh $train" >&2
    bash "$here/train-data.sh" "$train" || {
        echo "gan-data: the photo domain needs $train (tools/train-data.sh failed, above)" >&2; exit 1; }
fi
ln -sfn "$(realpath --relative-to="$dir" "$train")" "$dir/photos"
np=$(ls -L "$dir/photos" | grep -ciE '\.(jpg|jpeg|png)$' || true)

# README: the domains, then the paintings' provenance as paintings/README.md gives it.
section() {  # the body of section "## $2" of markdown file $1 (up to the next "## ")
    awk -v h="## $2" '$0 == h { on = 1; next } on && /^## / { exit } on' "$1"
}
readme=$dir/README.md
{
    echo "# CycleGAN domains: photographs and two painters"
    echo
    echo "Made by \`tools/gan-data.sh\` (\`make gan-data\`); not part of the repository."
    echo
    echo "| folder | what | images | source (from the project's root) |"
    echo "|---|---|---|---|"
    echo "| \`monet/\` | Claude Monet (1840–1926), 256×256 | $nm | \`$src/monet/\` |"
    echo "| \`vangogh/\` | Vincent van Gogh (1853–1890), 256×256 | $nv | \`$src/vangogh/\` |"
    echo "| \`photos/\` | free-licence photographs (link to \`$train\`) | $np | \`make train-data\`; authors and licences in \`photos/README.md\` |"
    echo
    echo "The painting files are the shared ones, unchanged (hard links or copies). What follows is taken from"
    echo "\`$src/README.md\`, which covers the other paintings of that folder as well."
    echo
    echo "## Why these are public domain"
    section "$src/README.md" "Why these are public domain"
    echo "## How they were made"
    section "$src/README.md" "How it was made"
    echo "## Doubtful points"
    section "$src/README.md" "Doubtful points"
    grep '^Full commit ids' "$src/README.md" || true
    echo
    for d in vangogh monet; do
        echo "## Files: \`$d/\`"
        section "$src/README.md" "Files: \`$d/\`"
    done
} >"$readme.tmp"
mv -f "$readme.tmp" "$readme"
echo "gan-data: $dir: monet $nm, vangogh $nv paintings ($linked linked, $copied copied, $kept already there), photos $np (-> $train); provenance in $readme"
