# ktau automatic instrumentation: a program built with `pkg-config zepto-ktau` flags
# (-finstrument-functions) under `zepto ktau run --no-kernel` with KTAU_EXCLUDE: static and
# exported functions by name with their exact calls and child calls, the excluded one absent,
# a thread and a forked child in profiles of their own.
. "$(dirname "$0")/lib.sh"
export PKG_CONFIG_PATH=$BIN/../lib/pkgconfig
command -v cc >/dev/null || { echo "skipped: no C compiler"; exit 77; }
pkg-config --exists zepto-ktau || { fail "pkg-config does not find zepto-ktau"; finish; }
flags=$(pkg-config --cflags zepto-ktau)
case "$flags" in *-finstrument-functions*) ;; *) fail "cflags without -finstrument-functions: $flags" ;; esac
# shellcheck disable=SC2046
cc -O1 -g $flags "$(dirname "$0")/ktau_auto.c" -o "$WORK/auto" $(pkg-config --libs zepto-ktau) \
    -pthread || { fail "cannot build with the pkg-config flags"; finish; }

KTAU_EXCLUDE='excluded_*,nothing' "$ZEPTO" ktau run --no-kernel -o "$WORK/prof" -- "$WORK/auto" \
    >"$WORK/out" 2>"$WORK/err" || fail "ktau run failed: $(cat "$WORK/err")"
field() { # field FILE NAME COLUMN(1=calls,2=subrs)
    awk -F'"' -v n="$2" -v c="$3" '$2 == n { split($3, a, " "); print a[c]; f = 1 }
        END { if (!f) print "missing" }' "$1"
}
expect() { # expect FILE NAME COLUMN WANT
    got=$(field "$1" "$2" "$3")
    [ "$got" = "$4" ] || fail "$(basename "$1"): '$2' column $3 is $got, expected $4"
}
P=$WORK/prof/profile.0.0.0
expect "$P" static_leaf 1 15
expect "$P" exported_mid 1 3
expect "$P" exported_mid 2 6
expect "$P" main 1 1
expect "$P" main 2 12
grep -q excluded_helper "$P" && fail "excluded_helper was timed despite KTAU_EXCLUDE"
expect "$WORK/prof/profile.0.0.1" worker_body 1 1
expect "$WORK/prof/profile.0.0.1" static_leaf 1 1
expect "$WORK/prof/profile.1.0.0" static_leaf 1 7
grep -q 'kernel capture: off (--no-kernel)' "$WORK/prof/summary.txt" || fail "summary: kernel?"

# The example (examples/ktau): regions and functions of two threads.
EX=$(dirname "$0")/../../examples/ktau
# shellcheck disable=SC2046
cc -O1 -g $flags "$EX/jacobi.c" -o "$WORK/jacobi" $(pkg-config --libs zepto-ktau) -pthread ||
    fail "cannot build examples/ktau/jacobi.c"
(cd "$WORK" && "$ZEPTO" ktau run --no-kernel -o ex -- ./jacobi 128 20 >/dev/null 2>&1) ||
    fail "the example failed under ktau run"
for t in 0 1; do
    expect "$WORK/ex/profile.0.0.$t" relax 1 20
    expect "$WORK/ex/profile.0.0.$t" relax_rows 1 20
done
expect "$WORK/ex/profile.0.0.0" "checkpoint I/O" 1 2
finish
