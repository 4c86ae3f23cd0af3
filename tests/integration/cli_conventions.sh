# The conventions every command shares (README, man pages): -q is --quiet and -v is --verbose
# wherever they exist, and nothing else; -q leaves stderr empty on success; the progress
# animation (carriage returns, escape codes) appears only on a terminal, and never under
# NO_COLOR, TERM=dumb, a pipe or a file.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

# Every command's --help, from the command tree.
walk() {
    local subs
    subs=$("$ZEPTO" "$@" --commands 2>/dev/null | cut -f1)
    if [ -z "$subs" ] || [ "$subs" = "${*: -1}" ]; then
        echo "$*"
        return
    fi
    for s in $subs; do walk "$@" "$s"; done
}
mapfile -t cmds < <(walk)
[ "${#cmds[@]}" -ge 20 ] || fail "only ${#cmds[@]} commands found: ${cmds[*]}"
quiet=0
for c in "${cmds[@]}"; do
    # shellcheck disable=SC2086 # a command path is words
    h=$("$ZEPTO" $c --help 2>&1)
    while read -r line; do
        case $line in
        "-q, --quiet"*) quiet=$((quiet + 1)) ;;
        "-v, --verbose"*) ;;
        *) fail "zepto $c: '$line': -q must be --quiet and -v --verbose" ;;
        esac
    done < <(printf '%s\n' "$h" | grep -E '^\s+(-[qv][, ]|--(quiet|verbose)\b)' | sed 's/^ *//')
done
[ "$quiet" -ge 3 ] || fail "only $quiet commands document -q, --quiet"

# -q: nothing on stderr when all goes well.
"$ZEPTO" noise record -q -d 0.3s -c 0 -o q.znt >/dev/null 2>q.err || fail "noise record -q"
[ -s q.err ] && fail "noise record -q printed: $(cat q.err)"
"$ZEPTO" noise play --synthetic period=1ms,duration=20us -c 0 -d 0.2s -q >/dev/null 2>p.err ||
    fail "noise play -q"
[ -s p.err ] && fail "noise play -q printed: $(cat p.err)"
"$ZEPTO" noise play --synthetic period=1ms,duration=20us -c 0 -d 0.2s >/dev/null 2>p2.err
[ -s p2.err ] || fail "noise play without -q printed no report: the check above proves nothing"
if [ "$(id -u)" -eq 0 ] && command -v python3 >/dev/null; then
    python3 "$(dirname "$0")/tune_tree.py" make tree $$ >/dev/null || fail "fake tree"
    export ZEPTO_SYSROOT=$WORK/tree ZEPTO_TUNE_STATE=$WORK/tune.state
    "$ZEPTO" tune apply --cpus 2-3 -q >/dev/null 2>a.err || fail "tune apply -q: $(cat a.err)"
    [ -s a.err ] && fail "tune apply -q printed: $(cat a.err)"
    "$ZEPTO" tune restore >/dev/null || fail "tune restore"
    "$ZEPTO" tune apply --cpus 2-3 >/dev/null 2>a2.err || fail "tune apply"
    grep -q 'old values saved' a2.err || fail "tune apply without -q said nothing: $(cat a2.err)"
    "$ZEPTO" tune restore >/dev/null || fail "tune restore"
    unset ZEPTO_SYSROOT ZEPTO_TUNE_STATE
fi

# The progress animation: on a terminal only (script(1) gives one), and not under NO_COLOR or
# TERM=dumb; never into a pipe or a file.
anim() { grep -c $'\r\|\033\[' "$1" || true; }
"$ZEPTO" noise record -d 1.5s -c 0 -o f.znt >/dev/null 2>file.err || fail "record into a file"
[ "$(anim file.err)" -eq 0 ] || fail "animation into a file: $(od -c file.err | head -3)"
"$ZEPTO" noise record -d 1.5s -c 0 -o f.znt 2>&1 >/dev/null | cat >pipe.err
[ "$(anim pipe.err)" -eq 0 ] || fail "animation into a pipe: $(od -c pipe.err | head -3)"
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1; then
    rec="$ZEPTO noise record -d 1.5s -c 0 -o t.znt"
    TERM=xterm script -qec "$rec" /dev/null >tty.out 2>&1 </dev/null
    if ! grep -q $'\033\\[' tty.out; then
        fail "no animation on a terminal: the checks around it prove nothing ($(head -c 200 tty.out))"
    fi
    NO_COLOR=1 TERM=xterm script -qec "$rec" /dev/null >nocolor.out 2>&1 </dev/null
    # script(1) itself ends lines with \r\n: only a \r not before \n, or an escape, is animation.
    grep -q $'\033\[' nocolor.out && fail "escape codes under NO_COLOR: $(od -c nocolor.out | head -3)"
    TERM=dumb script -qec "$rec" /dev/null >dumb.out 2>&1 </dev/null
    grep -q $'\033\[' dumb.out && fail "escape codes under TERM=dumb: $(od -c dumb.out | head -3)"
else
    echo "note: script(1) cannot open a pseudo-terminal here: the terminal case is not checked"
fi
finish
