#!/bin/sh
# The folders of src/ depend on each other one way only (README, "Layout"):
#   core  <-  io, nn, loss, optim, formats' readers  <-  models  <-  formats' converters, methods  <-  video
# checked on every #include "folder/..." of src/, and the command line uses include/impasto.h
# alone (plus its own headers). Run from the repository root (as `make test` does).
. tests/cli_lib.sh

# The folders each folder of src/ may include from (its own included).
may_include() {
    case $1 in
        core) echo "core" ;;
        io | nn | loss | optim) echo "core" ;;
        formats/convert_*) echo "core formats models" ;;  # converters write the models' files
        formats) echo "core" ;;                             # readers
        models) echo "core nn formats" ;;
        methods) echo "core io nn loss optim formats models" ;;
        video) echo "core io nn loss optim formats models methods" ;;  # flow, and video's methods
        *) echo "" ;;
    esac
}

for f in src/*/*.c src/*/*.h; do
    dir=${f#src/}; dir=${dir%%/*}
    case $f in src/formats/convert_*) who=formats/convert_ ;; *) who=$dir ;; esac
    allowed="$dir $(may_include "$who")"
    for inc in $(sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([a-z_]*\)\/.*/\1/p' "$f"); do
        case " $allowed " in
            *" $inc "*) ;;
            *) echo "    $f includes a header of src/$inc/"; echo "$f" >>"$T/bad" ;;
        esac
    done
done
if [ -s "$T/bad" ]; then bad "src/ folders include only the folders below them"
else ok "src/ folders include only the folders below them"; fi

# The CLI links the public archive (only impasto_* visible); its #includes say the same. The
# server (serve/) is linked into the CLI the same way: it sees impasto.h and its own headers, and
# the CLI sees the server through serve.h alone. cluster/ (MPI, docs/cluster.md) likewise, seen
# through cluster.h.
: >"$T/cli"
for f in cli/*.c cli/*.h serve/*.c serve/*.h cluster/*.c cluster/*.h; do
    sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
        case $f:$inc in *:impasto.h | cli/*:serve.h | serve/*:serve.h | serve/*:server.h | \
                        cli/*:cluster.h | cluster/*:cluster.h) ;;
            cli/*:*/*) echo "    $f includes \"$inc\"" | tee -a "$T/cli" ;;
            cli/*:*) [ -f "cli/$inc" ] || echo "    $f includes \"$inc\"" | tee -a "$T/cli" ;;
        *) echo "    $f includes \"$inc\"" | tee -a "$T/cli" ;; esac
    done
done
if [ -s "$T/cli" ]; then bad "cli/, serve/ and cluster/ include impasto.h and their own headers only"
else ok "cli/, serve/ and cluster/ include impasto.h and their own headers only"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
