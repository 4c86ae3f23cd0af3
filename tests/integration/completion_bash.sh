# The bash completion (dist/bash-completion/zepto), driven as bash drives it (COMP_WORDS,
# COMP_CWORD, the function `complete -p zepto` names): subcommands, their options, file arguments.
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/integration/lib.sh"
PATH=$(dirname "$ZEPTO"):$PATH
. "$src/dist/bash-completion/zepto"
func=$(complete -p zepto | grep -oE -- '-F [^ ]+' | cut -d' ' -f2)
[ -n "$func" ] || { fail "complete -p zepto names no function"; finish; }
comp() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*" COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$func" zepto "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sort
}
expect_words() { # expect_words "WANTED WORDS" COMP_WORDS...: the completions are exactly those
    local want=$1 got
    shift
    got=$(comp "$@" | tr '\n' ' ' | sed 's/ $//')
    [ "$got" = "$want" ] || fail "'$*<TAB>' gives '$got', expected '$want'"
}
expect_words "noise" zepto no
expect_words "report" zepto re
expect_words "record" zepto noise rec
expect_words "serve stat stream" zepto zoid s
# every option that noise record's --help lists, and only options
got=$(comp zepto noise record --)
for o in --duration --cpus --threshold --output --json --buffer --clock --explain --quiet --sync-timeout; do
    grep -qx -- "$o" <<<"$got" || fail "'zepto noise record --<TAB>' lacks $o: $(echo $got)"
done
grep -qv -- '^--' <<<"$got" && fail "'zepto noise record --<TAB>' gives a non-option: $(echo $got)"
# a subcommand's own options only
comp zepto tune plan -- | grep -qx -- --state && fail "'zepto tune plan --<TAB>' offers --state"
expect_words "--housekeeping" zepto tune plan --ho
# file arguments: after -o and --state, and a trace operand
mkdir -p "$WORK/d"
touch "$WORK/d/node.znt" "$WORK/d/other.znt"
expect_words "$WORK/d/node.znt" zepto noise record -o "$WORK/d/no"
expect_words "$WORK/d/node.znt $WORK/d/other.znt" zepto noise analyse "$WORK/d/"
expect_words "$WORK/d/other.znt" zepto tune restore --state "$WORK/d/ot"
finish
