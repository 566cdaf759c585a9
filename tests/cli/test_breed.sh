#!/bin/sh
# impasto breed as a user meets it: bad input gets one clear line and nothing written; a run
# writes the sheet and child<i>.genes.safetensors; a child is a style for adain and wct and a
# parent for breed; the same seed gives the same children; Ctrl-C keeps the children made.
# Run from the repository root (as `make test` does); IMPASTO_BUILD names the build folder.
. tests/cli_lib.sh
C=examples/images/horses.jpg
S=examples/images/scream.jpg
ADAIN=models/adain.safetensors
if [ ! -s $ADAIN ]; then skip "breed" "no $ADAIN (make models)"; echo "$pass passed, $fail failed"; exit 0; fi

expect "no parents" 2 "no parents" -- "$B" breed -c $C -o "$T/s.png"
expect "children 0" 2 "--children must be between 1 and 64" -- "$B" breed -c $C -s $S,$C --children 0 -o "$T/s.png"
expect "children absurd" 2 "--children must be between 1 and 64" -- "$B" breed -c $C -s $S,$C --children 100000 -o "$T/s.png"
expect "mutation" 2 "--mutation must be between 0 and 1" -- "$B" breed -c $C -s $S,$C --mutation 3 -o "$T/s.png"
expect "genes dir" 2 "is not a folder" -- "$B" breed -c $C -s $S,$C --genes-dir "$T/none" -o "$T/s.png"
expect "a model as genes" 1 "is not a genes file (a model of kind 'adain')" -- "$B" breed -c $C -s $S,$ADAIN -o "$T/s.png" --content-size 32
printf 'not safetensors at all' >"$T/junk.genes.safetensors"
expect "junk genes" 1 "junk.genes.safetensors" -- "$B" breed -c $C -s $S,"$T/junk.genes.safetensors" -o "$T/s.png" --content-size 32
if ls "$T" | grep -q 'child\|^s\.png'; then bad "nothing written on bad input"; else ok "nothing written on bad input"; fi

# A run: the sheet (2 columns of 48x32 children with labels) and the genes files.
"$B" breed -c $C -s $S,$C --children 2 --seed 5 -o "$T/sheet.png" --content-size 48 --style-size 64 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/err" ] && [ "$(png_size "$T/sheet.png")" = "108x49" ] &&
   [ -s "$T/child1.genes.safetensors" ] && [ -s "$T/child2.genes.safetensors" ] && [ ! -f "$T/child3.genes.safetensors" ]; then
    ok "breed run"
else bad "breed run"; ls "$T"; png_size "$T/sheet.png"; fi
# The same seed gives the same children.
mkdir -p "$T/again"
"$B" breed -c $C -s $S,$C --children 2 --seed 5 -o "$T/again/sheet.png" --content-size 48 --style-size 64 -q
if cmp -s "$T/child2.genes.safetensors" "$T/again/child2.genes.safetensors" && cmp -s "$T/sheet.png" "$T/again/sheet.png"; then
    ok "same seed, same children"
else bad "same seed, same children"; fi
"$B" breed -c $C -s $S,$C --children 2 --seed 6 --genes-dir "$T/again" -o "$T/again/other.png" --content-size 48 --style-size 64 -q
if ! cmp -s "$T/child2.genes.safetensors" "$T/again/child2.genes.safetensors"; then ok "another seed"; else bad "another seed"; fi

# A child as a style (adain; wct at relu4_1) and as a parent.
"$B" adain -c $C -s "$T/child1.genes.safetensors" -o "$T/g_adain.png" --content-size 48 -q
if [ $? -eq 0 ] && [ -s "$T/g_adain.png" ]; then ok "adain with genes"; else bad "adain with genes"; fi
"$B" adain -c $C -s "$T/child1.genes.safetensors",$S --style-weights 1,1 -o "$T/g_mix.png" --content-size 48 -q
if [ $? -eq 0 ] && [ -s "$T/g_mix.png" ]; then ok "adain genes and a painting"; else bad "adain genes and a painting"; fi
"$B" wct --levels 1 -c $C -s "$T/child1.genes.safetensors" -o "$T/g_wct.png" --content-size 48 -q
if [ $? -eq 0 ] && [ -s "$T/g_wct.png" ]; then ok "wct with genes"; else bad "wct with genes"; fi
expect "wct two levels with genes" 2 "relu4_1 statistics only" -- "$B" wct -c $C -s "$T/child1.genes.safetensors" -o "$T/g2.png" --content-size 48
expect "adain preserve-color with genes" 2 "preserve_color" -- "$B" adain -c $C -s "$T/child1.genes.safetensors" --preserve-color -o "$T/g3.png" --content-size 48
"$B" breed -c $C -s "$T/child1.genes.safetensors","$T/child2.genes.safetensors",$S --children 1 --genes-dir "$T/again" -o "$T/gen2.png" --content-size 48 -q
if [ $? -eq 0 ] && [ -s "$T/gen2.png" ] && [ -s "$T/again/child1.genes.safetensors" ]; then ok "children as parents"; else bad "children as parents"; fi
# A child's file may not overwrite a parent.
expect "child over a parent" 2 "" -- "$B" breed -c $C -s "$T/child1.genes.safetensors",$S --children 1 -o "$T/gen3.png" --content-size 48

# Ctrl-C: exit 130, the children made so far on <out>_interrupted.png, the old sheet kept.
mkdir -p "$T/int"; echo precious >"$T/int/sheet.png"
"$B" breed -c $C -s $S,$C --children 64 -o "$T/int/sheet.png" --content-size 256 --style-size 64 >"$T/out" 2>"$T/err" &
pid=$!
i=0; while [ ! -s "$T/int/child1.genes.safetensors" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && [ "$(cat "$T/int/sheet.png")" = precious ] && [ -s "$T/int/sheet_interrupted.png" ] && grep -q "interrupted after" "$T/err"; then
    ok "ctrl-c"
else echo "    exit $rc"; bad "ctrl-c"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
