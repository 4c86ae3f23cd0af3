# Man pages, --help and the option parsers agree, for zepto and every subcommand: the man page
# (generated from --help by docs/man/gen.sh) names exactly the options --help names; --help names
# exactly the options the parser's table holds (ZEPTO_CLI_LIST_OPTIONS); and each option --help
# names is accepted by the command (not "unknown option") when given.
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/integration/lib.sh"
. "$src/docs/man/cli.sh"
command -v help2man >/dev/null || { echo "SKIP: help2man is missing (scripts/deps.sh)"; exit 77; }

# The pages the build made (cmake/ZeptoDocs.cmake, what is installed), else made here.
man="$(dirname "$ZEPTO")/../man/man1"
if [ ! -s "$man/zepto.1" ]; then
    man="$WORK/man1"
    bash "$src/docs/man/gen.sh" "$ZEPTO" "$man" >/dev/null 2>"$WORK/gen.err" || fail "gen.sh: $(cat "$WORK/gen.err")"
fi

# The options of a man page: the ones before EXIT STATUS (the rest is common text).
man_options() {
    sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\[,\/]//g' "$1" | awk '
        /^\.SH/ { syn = ($0 ~ /SYNOPSIS/) } /^\.SH "?EXIT STATUS/ { exit }
        syn { sub(/^.*zepto /, ""); print; next }
        tp { tp = 0; l = $0
            while (match(l, /^--?[A-Za-z0-9][A-Za-z0-9-]*/)) {
                print substr(l, 1, RLENGTH); l = substr(l, RLENGTH + 1)
                if (l ~ /^, /) l = substr(l, 3); else break } }
        /^\.TP/ { tp = 1 }' | grep -oE -- '(^|[ [|])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[ [|]//' |
        grep -vxE -- '-h|--help|--version|-V|--commands' | sort -u
}

bogus=--zepto-no-such-option
ncmd=0 nopt=0
while IFS= read -r cmd; do
    name="zepto${cmd:+-${cmd// /-}}"
    page="$man/$name.1"
    ncmd=$((ncmd + 1))
    [ -s "$page" ] || { fail "no man page $name.1"; continue; }
    # shellcheck disable=SC2086
    help=$(zepto_cli_help_options "$ZEPTO" $cmd)
    d=$(diff <(printf '%s\n' $help | sed '/^$/d') <(man_options "$page") | grep '^[<>]' | tr '\n' ' ')
    [ -z "$d" ] || fail "$name: --help (<) and man page (>) differ: $d"
    [ -n "$cmd" ] || continue
    # shellcheck disable=SC2086
    table=$(zepto_cli_parser_table "$ZEPTO" $cmd)
    if [ -n "$table" ]; then
        d=$(diff <(echo "$help") <(echo "$table" | sed 's/=$//' | sort -u) | grep '^[<>]' | tr '\n' ' ')
        [ -z "$d" ] || fail "$name: --help (<) and the parser's table (>) differ: $d"
    fi
    # Each option given: the parser goes past it and stops at the bogus one (or at its value).
    verb=$("$ZEPTO" $cmd --help | head -1 | sed "s/^usage: zepto $cmd //" | grep -oE '^[a-z]+\|' | tr -d '|' || true)
    for o in $help; do
        arg=()
        if grep -qx -- "$o=" <<<"$table" || { [ -z "$table" ] &&
            "$ZEPTO" $cmd --help | grep -qE -- "(^|[ [])$o [A-Z]"; }; then
            arg=(1)
        fi
        st=0
        # shellcheck disable=SC2086
        timeout 10 "$ZEPTO" $cmd $verb "$o" "${arg[@]}" "$bogus" </dev/null >/dev/null 2>"$WORK/err" || st=$?
        nopt=$((nopt + 1))
        if grep -q -- "unknown option '$o'\|'$o': unknown option" "$WORK/err"; then
            fail "$name: $o is in --help but the parser rejects it: $(cat "$WORK/err")"
        elif [ "$st" -ne 2 ]; then
            fail "$name $o ${arg[*]} $bogus: exit $st, expected 2 (usage): $(head -2 "$WORK/err")"
        fi
    done
done < <(zepto_cli_commands "$ZEPTO")
[ "$ncmd" -ge 25 ] || fail "only $ncmd commands found"
echo "$ncmd commands, $nopt options tried"
finish
