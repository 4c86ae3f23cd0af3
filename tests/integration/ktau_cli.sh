# `zepto ktau run` and `zepto ktau show` on bad input: one line on stderr naming the problem,
# exit 2 for usage errors, 1 for runtime ones, 127 for a missing command; the program's status
# passed through; a killed program still leaves its profiles; perf refused means a user-level
# profile; show reads back what run wrote.
. "$(dirname "$0")/lib.sh"
Z=$ZEPTO

expect_status 2 'missing the command' "$Z" ktau run
expect_status 2 "unknown option '--bogus'" "$Z" ktau run --bogus -- true
expect_status 2 "unexpected argument 'true'" "$Z" ktau run -o "$WORK/x" true
expect_status 2 "unknown command 'frob'" "$Z" ktau frob
expect_status 2 'DIR' "$Z" ktau show
expect_status 127 'no-such-program-here: command not found' \
    "$Z" ktau run -o "$WORK/nf" -- no-such-program-here
[ -e "$WORK/nf" ] && fail "a directory was made for a command that does not exist"
# A file that is there but cannot be run: 126, as a shell says it.
printf 'int x;\n' >"$WORK/not-exec.c"
expect_status 126 'not-exec.c: Permission denied' "$Z" ktau run -o "$WORK/ne" -- "$WORK/not-exec.c"
expect_status 126 ': Permission denied' "$Z" ktau run -o "$WORK/ne" -- "$WORK"
expect_status 1 'not-a-dir/sub: cannot create the directory' \
    "$Z" ktau run -o "$WORK/not-a-dir/sub" -- true
touch "$WORK/file"
expect_status 1 'file: not a directory' "$Z" ktau run -o "$WORK/file" -- true
expect_status 1 'nowhere: No such file' "$Z" ktau show "$WORK/nowhere"
mkdir "$WORK/empty"
expect_status 1 'no profile.N.C.T files' "$Z" ktau show "$WORK/empty"
"$Z" ktau run --help | grep -q '^example:' || fail "ktau run --help has no example"
"$Z" ktau show --help | grep -q '^example:' || fail "ktau show --help has no example"
"$Z" ktau --help | grep -q 'run' || fail "ktau --help does not list run"

# A program without timers is one routine, named after it; its exit status passes through.
status=0
"$Z" ktau run --no-kernel -o "$WORK/p" -- sh -c 'exit 3' 2>"$WORK/err" || status=$?
[ "$status" -eq 3 ] || fail "exit status 3 came back as $status"
grep -q '^"sh" 1 ' "$WORK/p/profile.0.0.0" || fail "no root routine 'sh' in the profile"
"$Z" ktau show "$WORK/p" | grep -Eq '^ +[0-9.]+% .* sh$' || fail "show: no row for sh"

# Profiles whose name or figures cannot be true are refused, not shown (a rank of -1 from an
# overflowing name, negative calls, NaN times were shown before).
mkdir -p "$WORK/bad1" "$WORK/bad2" "$WORK/bad3"
cp "$WORK/p/profile.0.0.0" "$WORK/bad1/profile.99999999999999999999.0.0"
expect_status 1 'profile.99999999999999999999.0.0: not named profile.N.C.T' "$Z" ktau show "$WORK/bad1"
sed '3s/^\("[^"]*"\) [0-9.]*/\1 -1/' "$WORK/p/profile.0.0.0" >"$WORK/bad2/profile.0.0.0"
expect_status 1 'profile.0.0.0:3: not a function line' "$Z" ktau show "$WORK/bad2"
sed '3s/^\("[^"]*" [0-9]* [0-9]*\) [0-9.]*/\1 nan/' "$WORK/p/profile.0.0.0" >"$WORK/bad3/profile.0.0.0"
expect_status 1 'profile.0.0.0:3: not a function line' "$Z" ktau show "$WORK/bad3"

# Old profiles are kept unless --force.
expect_status 1 'earlier run \(use --force' "$Z" ktau run --no-kernel -o "$WORK/p" -- true
status=0
"$Z" ktau run --no-kernel --force -o "$WORK/p" -- true 2>/dev/null || status=$?
[ "$status" -eq 0 ] || fail "--force run exited $status"
grep -q '^"true" 1 ' "$WORK/p/profile.0.0.0" || fail "--force did not replace the profile"

# A damaged profile is named by show.
printf '3 templated_functions_MULTI_TIME\n# Name Calls Subrs Excl Incl ProfileCalls\n' \
    >"$WORK/p/profile.0.0.0"
expect_status 1 'profile.0.0.0: 3 functions announced' "$Z" ktau show "$WORK/p"

# Killed by a signal: 128+N, and the profiles of what ran are written.
status=0
"$Z" ktau run --no-kernel -o "$WORK/k" -- sh -c 'kill -9 $$' 2>"$WORK/err" || status=$?
[ "$status" -eq 137 ] || fail "killed program: status $status, expected 137"
grep -q 'killed by signal 9' "$WORK/err" || fail "no word of the signal: $(cat "$WORK/err")"
[ -f "$WORK/k/summary.txt" ] || fail "no summary after the kill"

# A program that forks and execs: the child is followed (node 1) when the kernel side is on.
status=0
"$Z" ktau run -o "$WORK/fe" -- sh -c 'ls / >/dev/null; exit 0' 2>"$WORK/err" || status=$?
[ "$status" -eq 0 ] || fail "fork+exec run exited $status: $(cat "$WORK/err")"
if grep -q 'kernel capture: on' "$WORK/fe/summary.txt"; then
    grep -q '^"sh" 1 ' "$WORK/fe/profile.0.0.0" || fail "fork+exec: no profile of sh"
    grep -q '^"ls" 1 ' "$WORK/fe/profile.1.0.0" || fail "fork+exec: no profile of ls"
    grep -q '^"ls => sys_getdents64" ' "$WORK/fe/profile.1.0.0" ||
        fail "fork+exec: ls's getdents64 not charged to it"
fi

# perf refused (an unprivileged user): one line of explanation, then a user-level profile.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    # The build and $WORK may sit below a directory only root can enter (a clone made with
    # mktemp -d): zepto, libktau.so and the output go to a scratch directory anyone can enter.
    shared=$(mktemp -d /tmp/zepto-ktau-cli.XXXXXX)
    chmod 0755 "$shared"
    mkdir -m 777 "$shared/out"
    cp "$Z" "$shared/zepto"
    lib=$(dirname "$Z")/libktau.so
    [ -f "$lib" ] || lib=$(dirname "$Z")/../lib/libktau.so
    cp "$lib" "$shared/libktau.so"
    status=0
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$shared/zepto" ktau run \
        -o "$shared/out/p" -- true 2>"$WORK/err" || status=$?
    [ "$status" -eq 0 ] || fail "unprivileged run exited $status: $(cat "$WORK/err")"
    grep -q 'profiling at user level only' "$WORK/err" || fail "no explanation: $(cat "$WORK/err")"
    grep -q '^"true" 1 ' "$shared/out/p/profile.0.0.0" || fail "no user-level profile"
    # tracefs not mounted (in a mount namespace of our own): root mounts it and goes on; another
    # user is told how to mount it and gets a user-level profile.
    if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
        status=0
        unshare -m --propagation private sh -c '
            umount /sys/kernel/tracing 2>/dev/null
            if [ -e /sys/kernel/tracing/events ]; then echo "still mounted"; exit 3; fi
            setpriv --reuid=nobody --regid=nogroup --clear-groups "$1/zepto" ktau run \
                -o "$1/out/nt" -- true 2>"$2.user" || exit 4
            "$1/zepto" ktau run -o "$1/out/rt" -- true 2>"$2.root" || exit 5
            [ -e /sys/kernel/tracing/events/sched ] || exit 6' sh "$shared" "$WORK/tfs" ||
            status=$?
        [ "$status" -eq 0 ] || fail "tracefs case: step $status: $(cat "$WORK"/tfs.* 2>/dev/null)"
        grep -q 'tracefs is not mounted at /sys/kernel/tracing (as root: mount -t tracefs' \
            "$WORK/tfs.user" || fail "tracefs, other user: $(cat "$WORK/tfs.user")"
        grep -q 'kernel: on' "$WORK/tfs.root" || fail "tracefs, root: $(cat "$WORK/tfs.root")"
    else
        echo "(tracefs-not-mounted case not run: unshare -m not permitted)"
    fi
    rm -rf "$shared"
else
    echo "(perf-refused and tracefs cases not run: need root, setpriv and user nobody)"
fi
# The report's workload program: bad arguments, and a directory it cannot write into.
W=$BIN/zepto-ktau-workload
expect_status 2 "usage: zepto-ktau-workload" "$W" --nope
expect_status 2 "usage: zepto-ktau-workload" "$W" --quick a b
status=0
"$W" --quick "$WORK/no/such/dir" >"$WORK/stdout" 2>"$WORK/stderr" || status=$?
[ "$status" -eq 1 ] || fail "workload with a missing DIR exited $status, expected 1"
grep -q "file_io in $WORK/no/such/dir: No such file" "$WORK/stderr" || fail "$(cat "$WORK/stderr")"
grep -q '^syscalls=10000$' "$WORK/stdout" || fail "the other regions did not run"
finish
