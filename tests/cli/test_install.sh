#!/bin/sh
# `make install` into a temporary prefix, checked the way a program using the library sees it:
# the installed files, the pkg-config file (dynamic and --static links of a small program using
# the public API), the exported symbols and the SONAME, a program with functions named like
# library internals, DESTDIR, and `make uninstall` removing everything again.
#
# Usage (from anywhere; it works in the repository root): IMPASTO_BUILD=build sh tests/cli/test_install.sh
# IMPASTO_BUILD is the build folder (default build); build-san means `make SANITIZE=1`, and the
# test programs are then built with the same sanitizers. Prints "ok NAME" or "not ok NAME" per
# check and a last line "N passed, N failed"; exits non-zero when a check failed.

cd "$(dirname "$0")/../.." || exit 1
B=${IMPASTO_BUILD:-build}
CC=${CC:-cc}
MAKE=${MAKE:-make}
SAN=""
MAKEVARS="BUILD=$B"
if [ "$B" = build-san ]; then
    SAN="-fsanitize=address,undefined"
    MAKEVARS="SANITIZE=1"
fi

passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/impasto-install-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
log=$tmp/log

ok() { passed=$((passed + 1)); echo "ok $1"; }
skip() { passed=$((passed + 1)); echo "ok $1 # SKIP $2"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok $1"
    [ -s "$log" ] && sed 's/^/    /' "$log" | head -40
}
# check NAME COMMAND...: the command's output goes to $log, shown when it fails.
check() {
    name=$1
    shift
    if "$@" >"$log" 2>&1; then ok "$name"; else not_ok "$name"; fi
}

# The version, read from the header as the Makefile reads it.
num() { sed -n "s/^#define IMPASTO_VERSION_$1 \([0-9][0-9]*\)$/\1/p" include/impasto.h; }
MAJOR=$(num MAJOR)
VERSION=$MAJOR.$(num MINOR).$(num PATCH)
P=$tmp/p
L=$P/lib
export PKG_CONFIG_PATH="$L/pkgconfig"

check install $MAKE -s install $MAKEVARS PREFIX="$P"

files_present() {
    for f in bin/impasto include/impasto.h lib/libimpasto.so.$VERSION lib/libimpasto.a \
        lib/pkgconfig/impasto.pc; do
        [ -f "$P/$f" ] || { echo "missing $P/$f"; return 1; }
    done
    [ -x "$P/bin/impasto" ] || { echo "$P/bin/impasto is not executable"; return 1; }
    [ "$(readlink "$L/libimpasto.so.$MAJOR")" = "libimpasto.so.$VERSION" ] &&
        [ "$(readlink "$L/libimpasto.so")" = "libimpasto.so.$MAJOR" ] ||
        { ls -l "$L"; return 1; }
}
check installed-files files_present

check cli-runs sh -c '"$1/bin/impasto" --version | grep -F "$2"' sh "$P" "$VERSION"

pc_ok() {
    [ "$(pkg-config --modversion impasto)" = "$VERSION" ] || return 1
    pkg-config --cflags impasto | grep -F -e "-I$P/include" || return 1
    pkg-config --static --libs impasto | grep -e "-lopenblas" | grep -e "-lpng" | grep -e "-ljpeg" |
        grep -e "-lcjson" | grep -e "-lgomp" | grep -e "-lpthread" | grep -e "-lm"
}
check pkg-config pc_ok

# A user's program: the public API only, through the installed header. With -DCLASH it also
# defines functions named like library internals (gemm, file_read_all) with other signatures:
# the library must keep calling its own (impasto_image_load reads files with its file_read_all)
# and the program its own.
cat >"$tmp/prog.c" <<'EOF'
#include <impasto.h>
#include <stdio.h>
#include <string.h>

#ifdef CLASH
int gemm(int x);
const char *file_read_all(void);
int gemm(int x) { return x + 1; }
const char *file_read_all(void) { return "the program's own"; }
#endif

int main(int argc, char **argv) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = NULL, *back = NULL;
    void *png = NULL;
    size_t n = 0;
    int ok = ctx && impasto_image_create(ctx, 5, 4, 3, &img) == IMPASTO_OK;
    if (ok) {
        float *p = impasto_image_data(img);
        for (int i = 0; i < 5 * 4 * 3; i++) p[i] = (float)(i * 4) / 255.0f;
    }
    ok = ok && impasto_image_save_memory(ctx, img, "png", 0, &png, &n) == IMPASTO_OK;
    ok = ok && impasto_image_load_memory(ctx, png, n, &back) == IMPASTO_OK;
    ok = ok && impasto_image_width(back) == 5 && impasto_image_height(back) == 4 &&
         memcmp(impasto_image_cdata(back), impasto_image_cdata(img), 60 * sizeof(float)) == 0;
#ifdef CLASH
    impasto_image *again = NULL;
    ok = ok && argc > 1 && impasto_image_save(ctx, back, argv[1], 0) == IMPASTO_OK &&
         impasto_image_load(ctx, argv[1], &again) == IMPASTO_OK && impasto_image_width(again) == 5;
    ok = ok && gemm(1) == 2 && strcmp(file_read_all(), "the program's own") == 0;
    impasto_image_free(again);
#endif
    if (!ok) fprintf(stderr, "failed: %s\n", ctx ? impasto_ctx_error(ctx) : "no context");
    printf("%s %s\n", ok ? "round-trip-ok" : "round-trip-failed", impasto_version());
    impasto_free(png);
    impasto_image_free(back);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
    return ok ? 0 : 1;
}
EOF

# Runs a built program and checks it printed the library's version.
runs() {
    out=$("$@") || return 1
    echo "$out"
    [ "$out" = "round-trip-ok $VERSION" ]
}

# Dynamic: `cc $(pkg-config --cflags --libs impasto)`, found at run time through the rpath; it
# must need the library by its SONAME and load the installed copy.
shared_link() {
    # shellcheck disable=SC2046
    $CC $SAN -std=c11 "$@" -Wl,-rpath,"$L" $(pkg-config --cflags --libs impasto) || return 1
}
dynamic_ok() {
    shared_link -o "$tmp/prog_shared" "$tmp/prog.c" && runs "$tmp/prog_shared" &&
        readelf -d "$tmp/prog_shared" | grep -F "[libimpasto.so.$MAJOR]" &&
        ldd "$tmp/prog_shared" | grep -F "$L/libimpasto.so.$MAJOR"
}
check link-shared dynamic_ok

# Static: libimpasto.a (named exactly, or the linker would prefer the .so beside it) plus
# everything `pkg-config --static` says it needs.
static_link() {
    libs=""
    for w in $(pkg-config --static --libs impasto); do
        [ "$w" = -limpasto ] && w=-l:libimpasto.a
        libs="$libs $w"
    done
    # shellcheck disable=SC2086
    $CC $SAN -std=c11 "$@" $(pkg-config --cflags impasto) $libs || return 1
}
static_ok() {
    static_link -o "$tmp/prog_static" "$tmp/prog.c" && runs "$tmp/prog_static" &&
        ! readelf -d "$tmp/prog_static" | grep -F libimpasto
}
check link-static static_ok

# README's memory-to-memory example (examples/fast.c), built against the installed library the way
# README says, runs a fast network when the candy model is there.
readme_ok() {
    shared_link -o "$tmp/fast" examples/fast.c || return 1
    [ -f models/candy.safetensors ] || { echo "no models/candy.safetensors: built only"; return 0; }
    "$tmp/fast" models/candy.safetensors examples/images/horses.jpg "$tmp/fast.png" &&
        "$P/bin/impasto" compare --resize examples/images/horses.jpg "$tmp/fast.png" >/dev/null
}
check readme-example readme_ok

# Only impasto_* is exported, and every function the header declares is.
only_impasto() {
    if grep -v ' impasto_' "$tmp/syms"; then return 1; fi
    sed -n 's/^[a-z][^(]*[ *]\(impasto_[a-z0-9_]*\)(.*/\1/p' include/impasto.h | sort -u >"$tmp/declared"
    awk '{ print $3 }' "$tmp/syms" | sort -u >"$tmp/exported"
    [ -s "$tmp/declared" ] && diff "$tmp/declared" "$tmp/exported"
}
nm -D --defined-only "$L/libimpasto.so.$VERSION" | grep . >"$tmp/syms"
check exports-shared only_impasto
nm -g --defined-only "$L/libimpasto.a" | grep ' [A-Za-z] ' >"$tmp/syms"
check exports-static only_impasto

check soname sh -c 'readelf -d "$1" | grep -F "Library soname: [libimpasto.so.$2]"' sh \
    "$L/libimpasto.so.$VERSION" "$MAJOR"

clash_ok() {
    shared_link -DCLASH -o "$tmp/clash_shared" "$tmp/prog.c" &&
        runs "$tmp/clash_shared" "$tmp/a.png" &&
        static_link -DCLASH -o "$tmp/clash_static" "$tmp/prog.c" &&
        runs "$tmp/clash_static" "$tmp/b.png"
}
check own-internal-names clash_ok

# The manual page and the completion, generated from the option tables, are installed; the page
# renders and names every command, and bash completes commands, options and their values.
check man-page-installed cmp "$B/impasto.1" "$P/share/man/man1/impasto.1"
check completion-installed cmp "$B/impasto.bash-completion" "$P/share/bash-completion/completions/impasto"
man_ok() {
    MANWIDTH=100 man -l "$P/share/man/man1/impasto.1" >"$tmp/man.txt" 2>"$tmp/man.err" || { cat "$tmp/man.err"; return 1; }
    [ ! -s "$tmp/man.err" ] || { cat "$tmp/man.err"; return 1; }
    for c in transfer adain wct fast train "gan train" translate convert eval compare grid models serve IMPASTO_MODEL_DIR "EXIT STATUS"; do
        grep -q "$c" "$tmp/man.txt" || { echo "the man page does not mention $c"; return 1; }
    done
}
if command -v man >/dev/null 2>&1; then check man-page-renders man_ok; else skip man-page-renders "no man (apt-get install man-db)"; fi
completion_ok() {
    PATH="$P/bin:$PATH" bash -c '
        source "$1/share/bash-completion/completions/impasto" || exit 1
        complete -p impasto || exit 1
        try() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _impasto; echo "${COMPREPLY[*]}"; }
        [ "$(try impasto ada)" = adain ] || { echo "command: $(try impasto ada)"; exit 1; }
        [ "$(try impasto adain --pres)" = --preserve-color ] || { echo "option: $(try impasto adain --pres)"; exit 1; }
        [ "$(try impasto transfer --optimizer a)" = adam ] || { echo "choice: $(try impasto transfer --optimizer a)"; exit 1; }
    ' sh "$P"
}
check completion-works completion_ok

# DESTDIR stages the files; the .pc file names the final prefix.
staged_ok() {
    $MAKE -s install $MAKEVARS DESTDIR="$tmp/stage" PREFIX=/opt/impasto || return 1
    [ -f "$tmp/stage/opt/impasto/lib/libimpasto.a" ] &&
        grep -x "prefix=/opt/impasto" "$tmp/stage/opt/impasto/lib/pkgconfig/impasto.pc" || return 1
    $MAKE -s uninstall $MAKEVARS DESTDIR="$tmp/stage" PREFIX=/opt/impasto || return 1
    left=$(find "$tmp/stage" ! -type d)
    [ -z "$left" ] || { echo "left behind: $left"; return 1; }
}
check destdir staged_ok

uninstalled() {
    $MAKE -s uninstall $MAKEVARS PREFIX="$P" || return 1
    left=$(find "$P" ! -type d)
    [ -z "$left" ] || { echo "left behind: $left"; return 1; }
}
check uninstall uninstalled

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
