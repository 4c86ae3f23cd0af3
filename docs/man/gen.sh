#!/usr/bin/env bash
# Generates the man pages of zepto and of every subcommand (zepto.1, zepto-noise.1,
# zepto-noise-record.1, ...) with help2man from the commands' --help texts: the --help text is the
# one source, docs/man/common.h2m adds EXIT STATUS, ENVIRONMENT and SEE ALSO to every page, and
# docs/man/zepto-CMD.h2m (when present) adds to one page.
# usage: docs/man/gen.sh ZEPTO_BINARY OUTDIR
set -euo pipefail
z=$(realpath "$1")
out=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cli.sh"
command -v help2man >/dev/null || { echo "gen.sh: help2man is missing (scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The environment section, from zepto --help (every part's table of variables).
{
    echo "[ENVIRONMENT]"
    "$z" --help | awk '/^Each command has --help. Environment:/ { on = 1; next }
        on && /^  [A-Z]/ { sub(/^  /, ""); printf ".TP\n.B %s\n", $0; next }
        on && /^      / { sub(/^ +/, ""); print }'
    echo ".TP"
    echo ".B NO_COLOR, TERM=dumb"
    echo "no progress line on stderr (neither when stderr is not a terminal)"
} >"$tmp/env.h2m"

n=0
while IFS= read -r cmd; do
    name="zepto${cmd:+-${cmd// /-}}"
    w="$tmp/$name"
    # help2man runs PROGRAM --help and PROGRAM --version; the wrapper is the subcommand.
    # (help2man wants "Usage:" and "PROGRAM (PACKAGE) VERSION")
    cat >"$w" <<WRAP
#!/bin/sh
if [ "\$1" = --version ]; then echo "$name (Zepto) \$("$z" --version | cut -d' ' -f2-)"; exit 0; fi
"$z" $cmd --help | awk 'NR == 1 { u = \$0; sub(/^usage:/, "Usage:", u); next }
    u != "" && /^ / { sub(/^ +/, " "); u = u \$0; next }
    u != "" { print u; u = "" } { print }'
WRAP
    chmod +x "$w"
    # NAME: the first sentence of the text after the usage lines
    desc=$(zepto_cli_summary "$z" $cmd)
    [ -n "$desc" ] || desc=$("$z" $cmd --help | awk 'seen && NF { print; exit } !NF { seen = 1 }' |
        sed 's/[.:;] .*//; s/[.:;]$//')
    incs=(--include "$here/common.h2m" --include "$tmp/env.h2m")
    [ -f "$here/$name.h2m" ] && incs+=(--include "$here/$name.h2m")
    help2man --no-info --no-discard-stderr --section 1 --source "Zepto" --manual "Zepto manual" \
        --name "$desc" "${incs[@]}" --output "$out/$name.1" "$w"
    # help2man names the page after the wrapper's path; give it the command's own name
    sed -i "s|$tmp/||g" "$out/$name.1"
    n=$((n + 1))
done < <(zepto_cli_commands "$z")
echo "gen.sh: $n man pages in $out"
