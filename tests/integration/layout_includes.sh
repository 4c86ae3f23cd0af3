#!/usr/bin/env bash
# integration.layout_includes: the include arrows of docs/ARCHITECTURE.md. Argument: the source
# tree. Fails, printing each offending line, when
#   - a file under src/cli/ includes anything but system headers, "zepto/..." (the parts' public
#     headers), "base/..." and the CLI's own headers ("cli/..." or a file of src/cli/);
#   - a part's file includes another part's private header ("ktau/merge.h" from src/report/),
#     or anything of src/cli/; base includes nothing of a part.
# The parts are the folders of src/ (base, noise, bigmem, ktau, report, tune) and zoid's
# src/zoid/{core,gen,posix,preload,fuse}. One exception: the posix protocol (src/zoid/posix/
# zposix.h, the stubs generated from it, and lend_client.h, the client's side of zp_lend) is the
# interposer's and the FUSE client's interface until it moves to include/zepto/.
set -u
src=${1:?usage: layout_includes.sh SOURCE_DIR}/src
cd "$src" || exit 2
bad=0

# The part a path under src/ belongs to: "zoid/core", "ktau", "cli", ...
part_of() {
    local p=$1
    case $p in
    zoid/*/*) p=${p#zoid/}; part="zoid/${p%%/*}" ;;
    */*) part=${p%%/*} ;;
    *) part="" ;;
    esac
}

# Where each header of the tree lives, by file name (for includes without a folder).
declare -A home
while IFS= read -r h; do
    part_of "$h"
    home[${h##*/}]=$part
done < <(find . -name '*.h' | sed 's#^\./##')
home[zposix_client.h]=zoid/posix # generated from zoid/posix/zposix.h
home[zposix_server.h]=zoid/posix

offend() {
    echo "src/$1:$2: $3   <- $4"
    bad=$((bad + 1))
}

re_inc='^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^">]*)[">]'
while IFS=: read -r f line text; do
    [[ $text =~ $re_inc ]] || continue
    quote=${BASH_REMATCH[1]} inc=${BASH_REMATCH[2]}
    part_of "$f"
    me=$part
    # The part that owns the included header; "" for system and unknown (generated) headers.
    case $inc in
    zepto/*) continue ;;
    base/* | cli/* | noise/* | bigmem/* | ktau/* | report/* | tune/*) who=${inc%%/*} ;;
    zoid/*/*) part_of "$inc"; who=$part ;;
    */*) [ "$quote" = '<' ] && continue; who="" ;;
    *)
        [ "$quote" = '<' ] && continue
        if [ -e "${f%/*}/$inc" ]; then who=$me; else who=${home[$inc]:-}; fi ;;
    esac
    [ "$who" = base ] && continue
    if [ "$me" = cli ]; then
        [ "$who" = cli ] && continue
        offend "$f" "$line" "$text" "the CLI includes ${who:-an unknown header}'s private header"
    elif [ "$me" = base ]; then
        [ -z "$who" ] && continue
        offend "$f" "$line" "$text" "base includes a header of $who"
    else
        { [ "$who" = "$me" ] || [ -z "$who" ]; } && continue
        if [ "$who" = zoid/posix ] && { [ "$me" = zoid/preload ] || [ "$me" = zoid/fuse ]; }; then
            case ${inc##*/} in zposix.h | zposix_client.h | zposix_server.h | lend_client.h) continue ;; esac
        fi
        offend "$f" "$line" "$text" "$me includes a private header of $who"
    fi
done < <(find . -name '*.[ch]' | sed 's#^\./##' | sort | xargs grep -nE '^[[:space:]]*#[[:space:]]*include')

if [ $bad -ne 0 ]; then
    echo "layout_includes: $bad include(s) cross a part's boundary (docs/ARCHITECTURE.md, The arrows)"
    exit 1
fi
echo "layout_includes: all includes follow the arrows"
