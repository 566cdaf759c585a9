#!/bin/sh
# The option tables (cli/opts.h) as a user meets them: one parser for every command (GNU long
# options, --name=value, unique prefixes, -xVALUE, options after positional arguments), --help
# generated from the table with each default, --json summaries for the commands that write
# pictures or models, and `impasto models`. Run from the repository root; IMPASTO_BUILD as usual.
. tests/cli_lib.sh
C=examples/images/horses.jpg
S=examples/images/scream.jpg
# json_get FILE EXPR: evaluates a Python expression over the parsed JSON `j`.
json_get() { $PY -c "import json,sys; j = json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---- one parser ----
"$B" fast --model=candy --content $C -o"$T/x.png" --content-sc=8 -q >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && [ -s "$T/x.png" ] && ok "--name=value, -oVALUE, a unique prefix" || bad "--name=value, -oVALUE, a unique prefix"
"$B" grid "$T/x.png" -o "$T/g.png" --cell 32 $C -q >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && [ -s "$T/g.png" ] && ok "options between positional arguments" || bad "options between positional arguments"
expect "a flag given a value it cannot take" 2 "--crop expects 0 or 1, got 'maybe'" -- "$B" adain -c $C -s $S --crop=maybe
expect "a flag's short form with a value" 2 "unknown option '-qq'" -- "$B" adain -c $C -s $S -qq
expect "positional to a command that takes none" 2 "unexpected argument 'extra'" -- "$B" adain -c $C -s $S extra
"$B" grid -o "$T/g2.png" --cell 32 -- $C >"$T/out" 2>"$T/err" && ok "-- ends the options" || bad "-- ends the options"

# ---- help from the tables: every option listed, defaults from the library ----
"$B" transfer --help >"$T/help"
for o in --content --style --output --model --image-size --num-iterations --style-weight --optimizer --threads \
         --max-pixels --quiet --json; do
    grep -q -- "$o" "$T/help" || { bad "transfer --help lists $o"; continue; }
done
grep -q -- "--style-weight W .*(default 100)" "$T/help" && grep -q -- "--optimizer lbfgs|adam .*(default lbfgs)" "$T/help" &&
    ok "transfer --help shows the library's defaults" || bad "transfer --help shows the library's defaults"
"$B" adain --help | grep -q -- "--memory MB .*(default 1536)" && ok "adain --help: a shared group's default" || bad "adain --help: a shared group's default"
"$B" help --man | grep -q '^\.SS "impasto wct"' && ok "man page from the tables" || bad "man page from the tables"
"$B" help --bash-completion | bash -n && ok "completion is valid bash" || bad "completion is valid bash"

# ---- --json ----
"$B" adain -c $C -s $S -o "$T/a.png" --content-size 64 --style-size 64 --json >"$T/j" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(json_get "$T/j" "j['command'], j['outputs'][0]['path'], j['outputs'][0]['width'], j['exit']")" = "adain $T/a.png 64 0" ]
then ok "adain --json"; else bad "adain --json"; cat "$T/j"; fi
"$B" transfer -c $C -s $S -o "$T/t.png" --image-size 32 --num-iterations 3 --json >"$T/j" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(json_get "$T/j" "j['iterations'], j['loss'] > 0, j['content_loss'] >= 0, len(j['outputs'])")" = "3 True True 1" ]
then ok "transfer --json with losses"; else bad "transfer --json with losses"; cat "$T/j"; fi
mkdir -p "$T/in"; cp $C "$T/in/a.jpg"; echo broken >"$T/in/b.png"
"$B" fast -m candy -c "$T/in" -o "$T/fo" --content-scale 8 --json >"$T/j" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && [ "$(json_get "$T/j" "len(j['outputs']), j['failed'][0]['input'].endswith('b.png'), j['style'], j['exit']")" = "1 True candy 1" ]
then ok "fast folder --json lists what failed"; else bad "fast folder --json lists what failed"; cat "$T/j"; fi
mkdir -p "$T/photos"; cp $C "$T/photos/a.jpg"
"$B" train -s $S -d "$T/photos" -o "$T/m.safetensors" --image-size 32 --batch-size 1 --steps 1 --threads 1 --json >"$T/j" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(json_get "$T/j" "j['steps'], j['outputs'][0]['path'].endswith('m.safetensors')")" = "1 True" ]
then ok "train --json"; else bad "train --json"; cat "$T/j" "$T/err"; fi
"$B" transfer -c $C -s $S -o "$T/t2.png" --image-size 32 --num-iterations 2 --print-iter 1 --json >"$T/j" 2>"$T/err"
json_get "$T/j" "j['exit']" >/dev/null 2>&1 && grep -q "^iteration 2/2" "$T/err" && ok "--json keeps stdout for the summary" ||
    bad "--json keeps stdout for the summary"

# ---- impasto models ----
"$B" models >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q "candy .*fast style network (style 'candy')" "$T/out" && grep -q "vgg19 .*VGG-19" "$T/out" &&
   grep -q "adain .*AdaIN" "$T/out"; then ok "models lists what each is for"; else bad "models lists what each is for"; fi
"$B" models --names >"$T/out" && grep -qx candy "$T/out" && grep -qx vgg19 "$T/out" && ok "models --names" || bad "models --names"

# --fetch: the pinned files through a mirror (a file:// one here), checked and converted.
UP=${UPSTREAM:-../shared/models/upstream}
if [ -d "$UP" ] && command -v curl >/dev/null 2>&1; then
    MODELS_MIRROR="file://$(cd "$UP" && pwd)" "$B" models --fetch --only candy --into "$T/fetched" >"$T/out" 2>"$T/err"
    if [ $? -eq 0 ] && [ -s "$T/fetched/candy.safetensors" ] && cmp -s "$T/fetched/candy.safetensors" models/candy.safetensors
    then ok "models --fetch"; else bad "models --fetch"; cat "$T/out"; fi
    (IMPASTO_MODEL_DIR="$T/fetched" "$B" models --names) | grep -qx candy && ok "fetched models are found" || bad "fetched models are found"
else
    skip "models --fetch" "no $UP or no curl"
fi
expect "--only without --fetch" 2 "go with --fetch" -- "$B" models --only candy

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
