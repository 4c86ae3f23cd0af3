# Walks zepto's command tree and reads the options out of each command's --help, so that the man
# pages (docs/man/gen.sh), the bash completion (dist/bash-completion/zepto) and the parity test
# (tests/integration/man_parity.sh) all derive from the one source: the --help texts.
# Source it; every function takes the zepto binary first.

# Every command path, one per line: "" (zepto itself), "noise", "noise record", ..., "report".
zepto_cli_commands() {
    local z=$1 g c
    echo ""
    for g in $("$z" --commands); do
        echo "$g"
        # a group answers --commands with its subcommands; a plain command (report) does not
        if c=$("$z" "$g" --commands 2>/dev/null | cut -f1) && [ -n "$c" ]; then
            for s in $c; do echo "$g $s"; done
        fi
    done
}

# The one-line description of a subcommand ("noise record": "record detours"), from its group's
# table; nothing for a group or zepto itself.
zepto_cli_summary() {
    local z=$1
    [ $# -eq 3 ] || return 0
    "$z" "$2" --commands 2>/dev/null | awk -F '\t' -v c="$3" '$1 == c { print $2 }'
}

# The options one command's --help names, one per line, sorted: the ones its usage lines show and
# the ones its option list describes (lines that start with an option). $2...: the command path.
zepto_cli_help_options() {
    local z=$1
    shift
    # shellcheck disable=SC2086
    "$z" "$@" --help 2>/dev/null | awk '
        NR == 1 || (inusage && /^ /) { inusage = 1; line = $0; sub(/^.*zepto /, "", line)
            while (match(line, /(^|[ [|])--?[A-Za-z][A-Za-z0-9-]*/)) {
                t = substr(line, RSTART, RLENGTH); sub(/^[ [|]/, "", t); print t
                line = substr(line, RSTART + RLENGTH) }
            next }
        { inusage = 0 }
        /^  +-/ { line = $0; sub(/^ +/, "", line)
            while (match(line, /^--?[A-Za-z0-9][A-Za-z0-9-]*/)) {
                print substr(line, 1, RLENGTH); line = substr(line, RLENGTH + 1)
                if (line ~ /^, /) line = substr(line, 3); else if (line ~ /^[ =]?[A-Z]/) { sub(/^[ =][^ ,]*/, "", line); if (line ~ /^, /) line = substr(line, 3); else break } else break } }
    ' | grep -vxE -- '-h|--help|--version|-V|--commands' | sort -u
}

# The options a command's parser table holds (ZEPTO_CLI_LIST_OPTIONS: cli_opts_next prints its
# table and exits), sorted, "=" after one that takes a value; nothing for a command that does
# not use that loop.
zepto_cli_parser_table() {
    local z=$1
    shift
    ZEPTO_CLI_LIST_OPTIONS=1 "$z" "$@" 2>/dev/null </dev/null | grep -E '^-' |
        grep -vxE -- '-h|--help' | sort -u
}
zepto_cli_parser_options() { zepto_cli_parser_table "$@" | sed 's/=$//' | sort -u; }
