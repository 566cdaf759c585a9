#!/bin/sh
# Downloads the upstream weight files impasto converts (tools/models.list: each file's original address,
# pinned to a commit, and its SHA-256), checks them, and with --convert makes models/*.safetensors
# exactly as `make models` does. docs/models.md, "Downloading the weights", explains the options.
#
# Every download goes to a temporary file beside its destination and is renamed only once its checksum
# is right, so no half-written or unchecked file ever has a final name; a file already present with the
# right checksum is not downloaded again. Any failure ends with one line on stderr naming the file and
# why, and a non-zero exit status.
set -u

me=fetch-models
here=$(cd "$(dirname "$0")" && pwd)
list=$here/models.list
styles="candy mosaic pointilism rain_princess udnie"
all_models="vgg19 adain lst-r31 $styles"

usage() {
    cat <<EOF
usage: sh tools/fetch-models.sh [options]
Downloads the upstream weights (tools/models.list), checks their SHA-256, and converts them.
  --dest DIR          where the upstream files go (default models/upstream)
  --convert IMPASTO   convert them with this impasto binary (e.g. build/impasto)
  --models DIR        where the converted models go (default models)
  --mirror URL        fetch URL/<path under --dest> instead of the original addresses
                      (default: \$MODELS_MIRROR when set)
  --only M[,M...]     only the files these models need: vgg19 adain lst-r31 candy mosaic
                      pointilism rain_princess udnie, or fast for the five styles (default all)
  --retries N         attempts per file on a network error (default 3)
  -h, --help
Needs curl (or wget) and sha256sum (or shasum, or openssl).
EOF
}

# One line on stderr, then exit. Status 2 for usage errors, 1 for failures.
die() { echo "$me: $2" >&2; exit "$1"; }

dest=models/upstream models_dir=models impasto="" mirror=${MODELS_MIRROR:-} only="" retries=3
while [ $# -gt 0 ]; do
    case $1 in
    --*=*) opt=${1%%=*} val=${1#*=}; shift; set -- "$opt" "$val" "$@"; continue ;;
    esac
    case $1 in
    -h | --help) usage; exit 0 ;;
    --dest | --convert | --models | --mirror | --only | --retries)
        [ $# -ge 2 ] || die 2 "$1 needs a value"
        case $1 in
        --dest) dest=$2 ;;
        --convert) impasto=$2 ;;
        --models) models_dir=$2 ;;
        --mirror) mirror=$2 ;;
        --only) only=$2 ;;
        --retries) retries=$2 ;;
        esac
        shift 2 ;;
    *) die 2 "unknown option '$1' (see --help)" ;;
    esac
done
case $retries in '' | *[!0-9]* | 0) die 2 "--retries needs a whole number of at least 1, got '$retries'" ;; esac
[ -z "$dest" ] && die 2 "--dest needs a folder"
[ -z "$models_dir" ] && die 2 "--models needs a folder"
mirror=${mirror%/}

# The models wanted.
want=""
if [ -z "$only" ]; then
    want=$all_models
else
    for m in $(echo "$only" | tr ',' ' '); do
        case " $all_models fast " in
        *" $m "*) ;;
        *) die 2 "--only: unknown model '$m' (known: $all_models fast)" ;;
        esac
        [ "$m" = fast ] && m=$styles
        want="$want $m"
    done
fi
wanted() { case " $want " in *" $1 "*) return 0 ;; esac; return 1; }

# The models a listed file serves (the folder layout `make models` reads).
models_of() {
    case $1 in
    vgg19-imagenet-f32-head/* | vgg19-imagenet-uint8/*) echo vgg19 ;;
    adain/*) echo adain ;;
    lst-r31/*) echo lst-r31 ;;
    fast-neural-style/transformernet.param.bin) echo "$styles" ;;
    fast-neural-style/*.bin) b=${1#fast-neural-style/}; echo "${b%.bin}" ;;
    esac
}

# Tools: one line saying what to install when one is missing.
if command -v curl >/dev/null 2>&1; then getter=curl
elif command -v wget >/dev/null 2>&1; then getter=wget
else die 1 "needs curl or wget to download: install curl (e.g. apt-get install curl)"; fi
[ -n "${FETCH_MODELS_GETTER:-}" ] && getter=$FETCH_MODELS_GETTER # the tests try both
if command -v sha256sum >/dev/null 2>&1; then hasher=sha256sum
elif command -v shasum >/dev/null 2>&1; then hasher=shasum
elif command -v openssl >/dev/null 2>&1; then hasher=openssl
else die 1 "needs sha256sum, shasum or openssl to check the files: install coreutils"; fi
[ -f "$list" ] || die 1 "cannot read the file list $list"
if [ -n "$impasto" ]; then
    case $impasto in */*) ;; *) p=$(command -v "$impasto") || die 1 "--convert: no $impasto in PATH (give its path, e.g. build/impasto)"; impasto=$p ;; esac
    if [ ! -f "$impasto" ] || [ ! -x "$impasto" ]; then
        die 1 "--convert: $impasto is not an executable (build it with make)"
    fi
fi

sha256_of() {
    case $hasher in
    sha256sum) sha256sum <"$1" | cut -c1-64 ;;
    shasum) shasum -a 256 <"$1" | cut -c1-64 ;;
    openssl) openssl dgst -sha256 -r <"$1" | cut -c1-64 ;;
    esac
}

# Temporary files of this run, removed on every way out.
part="" part2="" errf="" conv_tmp=""
cleanup() { rm -f ${part:+"$part"} ${part2:+"$part2"} ${errf:+"$errf"} ${conv_tmp:+"$conv_tmp"}; }
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 129' HUP
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM
errf=$(mktemp "${TMPDIR:-/tmp}/fetch-models.XXXXXX") || die 1 "cannot make a temporary file"

# get URL OUT: one attempt. Returns 0 on success; otherwise sets why (a short reason) and
# transient (1 when trying again may help).
get() {
    why="" transient=0
    if [ "$getter" = curl ]; then
        code=$(curl -sS -L --fail --connect-timeout 30 --speed-limit 1024 --speed-time 60 \
            --proto '=http,https,file' -w '%{http_code}' -o "$2" "$1" </dev/null 2>"$errf")
        rc=$?
        [ $rc -eq 0 ] && return 0
        msg=$(tail -n 1 "$errf" | sed 's/^curl: ([0-9]*) //')
        case $rc in
        22) why="HTTP $code"
            case $code in 5?? | 408 | 429) transient=1 ;; esac ;;
        18) why="connection dropped mid-file, short read ($msg)"; transient=1 ;;
        28) why="timed out ($msg)"; transient=1 ;;
        6) why="cannot resolve the host ($msg)"; transient=1 ;;
        7) why="cannot connect ($msg)"; transient=1 ;;
        52) why="the server sent nothing ($msg)"; transient=1 ;;
        56 | 55 | 16 | 92) why="connection broken mid-file ($msg)"; transient=1 ;;
        35) why="TLS handshake failed ($msg)"; transient=1 ;;
        37) why="cannot read it ($msg)" ;;
        *) why="curl failed with status $rc ($msg)" ;;
        esac
    else
        wget -q -S --tries=1 --timeout=60 -O "$2" "$1" </dev/null 2>"$errf"
        rc=$?
        [ $rc -eq 0 ] && return 0
        code=$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$errf" | tail -n 1)
        case $rc in
        8) why="HTTP ${code:-error}"
            case $code in 5?? | 408 | 429) transient=1 ;; esac ;;
        4) length=$(sed -n 's/^ *[Cc]ontent-[Ll]ength: *\([0-9]*\).*/\1/p' "$errf" | tail -n 1)
            size=$(wc -c <"$2" 2>/dev/null | tr -d ' ')
            if [ -n "$length" ] && [ -n "$size" ] && [ "$size" -lt "$length" ]; then
                why="connection dropped mid-file, short read (got $size of $length bytes)"
            else
                why="network failure (wget status 4)"
            fi
            transient=1 ;;
        5) why="TLS verification failed" ;;
        *) why="wget failed with status $rc" ;;
        esac
    fi
    return 1
}

# c_array HEADER OUT: the bytes of the first C array `name[] = { 0x.., ... };` in HEADER.
c_array() {
    sed -n '/\[[^]]*\] *= *{/,/}/p' "$1" | grep -o '0[xX][0-9a-fA-F][0-9a-fA-F]*' |
        awk 'BEGIN { h = "0123456789abcdef" }
             { s = tolower(substr($0, 3)); v = 0
               for (i = 1; i <= length(s); i++) v = v * 16 + index(h, substr(s, i, 1)) - 1
               if (v > 255) exit 1
               line = line sprintf("\\%03o", v)
               if (++n % 64 == 0) { print line; line = "" } }
             END { if (line != "") print line; if (n == 0) exit 1 }' >"$errf" || return 1
    : >"$2" || return 1
    # shellcheck disable=SC2059 # each line is octal escapes, made above
    while IFS= read -r esc; do printf "$esc"; done <"$errf" >>"$2"
}

# fetch SHA256 DEST URL KIND: makes $dest/DEST, checked. Returns 0 if it was downloaded, 3 if it was
# already there; exits on failure.
fetch() {
    want_sum=$1 target=$dest/$2 from=$3 how=$4
    if [ -f "$target" ]; then
        have=$(sha256_of "$target")
        [ "$have" = "$want_sum" ] && return 3
        echo "$me: $2: present but its checksum differs, downloading it again" >&2
    fi
    if [ -n "$mirror" ]; then
        from=$mirror/$2 how=""
    elif [ -n "${FETCH_MODELS_GITHUB_RAW:-}" ]; then # tests/fetch_models_check.sh: a stand-in for GitHub
        case $from in
        https://raw.githubusercontent.com/*) from=${FETCH_MODELS_GITHUB_RAW%/}/${from#https://raw.githubusercontent.com/} ;;
        esac
    fi
    dir=$(dirname "$target") base=$(basename "$target")
    mkdir -p "$dir" || die 1 "$2: cannot make the folder $dir"
    part=$dir/.$base.part.$$
    [ -n "$how" ] && part2=$dir/.$base.part.$$.src
    n=1
    while :; do
        rm -f "$part" ${part2:+"$part2"}
        get "$from" "${part2:-$part}" && break
        [ $transient -eq 1 ] && [ $n -lt "$retries" ] || {
            [ $n -gt 1 ] && why="$why, $n attempts"
            die 1 "$2: $why, from $from; nothing kept"
        }
        echo "$me: $2: $why; trying again ($((n + 1)) of $retries)" >&2
        sleep $n
        n=$((n + 1))
    done
    if [ -n "$how" ]; then
        case $how in
        c-array) c_array "$part2" "$part" || die 1 "$2: $from holds no C byte array; nothing kept" ;;
        *) die 1 "$2: unknown kind '$how' in $list" ;;
        esac
        rm -f "$part2"; part2=""
    fi
    got=$(sha256_of "$part")
    [ "$got" = "$want_sum" ] || die 1 "$2: checksum mismatch, expected sha256 $want_sum, got $got, from $from; nothing kept"
    mv -f "$part" "$target" || die 1 "$2: cannot rename $part to $target"
    part=""
    return 0
}

# Download what the wanted models need.
downloaded=0 present=0 lines=0
while read -r sum file url kind; do
    case $sum in '' | '#'*) continue ;; esac
    lines=$((lines + 1))
    case $sum in *[!0-9a-f]*) die 1 "$list: line for $file has a bad checksum '$sum'" ;; esac
    [ ${#sum} -eq 64 ] && [ -n "$url" ] || die 1 "$list: the line for '$file' needs SHA256 DEST URL"
    case $file in /* | *..*) die 1 "$list: '$file' must be a relative path inside --dest" ;; esac
    use=0
    for m in $(models_of "$file"); do wanted "$m" && use=1; done
    [ $use -eq 1 ] || continue
    fetch "$sum" "$file" "$url" "${kind:-}"
    case $? in
    0) downloaded=$((downloaded + 1)); echo "fetched $file" ;;
    3) present=$((present + 1)) ;;
    esac
done <"$list"
[ $lines -gt 0 ] || die 1 "$list lists no files"
echo "$me: $downloaded downloaded, $present already present and checked, in $dest"

[ -n "$impasto" ] || exit 0

# convert NAME ARGS...: models/NAME.safetensors by `impasto convert ARGS... -o ...`, when it is missing
# or older than one of the upstream files or folders among ARGS. The model is written under a temporary
# name and renamed once impasto succeeded.
converted=0
convert() {
    name=$1 out=$models_dir/$1.safetensors; shift
    if [ -f "$out" ]; then
        newer=""
        for a in "$@"; do
            case $a in "$dest"/*) [ -e "$a" ] && newer=$newer$(find "$a" -type f -newer "$out" | head -n 1) ;; esac
        done
        [ -n "$newer" ] || return 0
    fi
    conv_tmp=$models_dir/.$name.part.$$.safetensors
    rm -f "$conv_tmp"
    if ! "$impasto" convert "$@" -o "$conv_tmp" </dev/null >/dev/null 2>"$errf"; then
        die 1 "converting $name failed: $(tail -n 1 "$errf"); no model written"
    fi
    [ -s "$conv_tmp" ] || die 1 "converting $name failed: impasto wrote nothing; no model written"
    mv -f "$conv_tmp" "$out" || die 1 "$name: cannot rename $conv_tmp to $out"
    conv_tmp=""
    converted=$((converted + 1))
    echo "converted $out"
}
mkdir -p "$models_dir" || die 1 "cannot make the folder $models_dir"
# The same commands as the Makefile's `models` rules, with UPSTREAM=--dest.
U=$dest F=$dest/fast-neural-style
wanted vgg19 && convert vgg19 vgg19 "$U/vgg19-imagenet-f32-head" "$U/vgg19-imagenet-uint8"
wanted adain && convert adain adain "$U/adain"
wanted lst-r31 && convert lst-r31 lst-r31 "$U/lst-r31"
for s in $styles; do
    wanted "$s" && convert "$s" ncnn-transformernet --param "$F/transformernet.param.bin" "$F/$s.bin"
done
echo "$me: $converted converted into $models_dir"
