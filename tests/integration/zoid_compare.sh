#!/usr/bin/env bash
# Differential test of POSIX forwarding: posix_ops (tests/integration/posix_ops.c, a fixed script
# of POSIX calls printing one normalised line per step) runs in a local directory and through one
# forwarding mode, $MODE = preload (`zepto zoid run --mount PREFIX`, strict and relaxed) or fuse
# (`zepto zoid mount`, strict and relaxed), against a daemon exporting a directory on the same file
# system; the outputs must be identical. Then escapes through that mode: symlinks in the export
# to /, /etc, /proc/self/root and out of the export by `..` must not let the daemon reach
# outside: a canary file that only the daemon's mount namespace has (a tmpfs mounted over a
# directory inside the daemon's private namespace) must never be read.
#
# Skips (exit 77, with the reason) when the machine cannot run the mode (no /dev/fuse, no right
# to mount); FAILS when the mode's implementation is missing from the build.
source "$(dirname "$0")/lib.sh"
: "${BIN:?BIN must name the directory of the test helpers}"
: "${MODE:?MODE must be preload or fuse}"
ops=$BIN/posix_ops
[ -x "$ops" ] || { echo "FAIL: $ops is not built" >&2; exit 1; }

# Is the mode in this build? A stub says "not implemented"; that is a failure, not a skip.
case $MODE in
preload) sub=run ;;
fuse) sub=mount ;;
*) echo "FAIL: unknown MODE $MODE" >&2; exit 1 ;;
esac
help_status=0
"$ZEPTO" zoid "$sub" --help >"$WORK/help" 2>&1 || help_status=$?
if [ "$help_status" -ne 0 ] || grep -qi "not implemented" "$WORK/help"; then
    echo "FAIL: 'zepto zoid $sub' is not implemented in this build: $(head -c 300 "$WORK/help")" >&2
    exit 1
fi
if [ "$MODE" = fuse ]; then
    if [ ! -c /dev/fuse ]; then
        echo "skip: /dev/fuse is absent"
        exit 77
    fi
    if ! (exec 3<>/dev/fuse) 2>/dev/null; then
        echo "skip: /dev/fuse cannot be opened by uid $(id -u)"
        exit 77
    fi
    if [ "$(id -u)" -ne 0 ] && ! [ -u "$(command -v fusermount3 2>/dev/null || echo /nonexistent)" ]; then
        echo "skip: not root and no setuid fusermount3: no right to mount"
        exit 77
    fi
fi

# Unix socket paths must fit in 108 bytes: the socket lives in a short directory of its own.
sockdir=$(mktemp -d /tmp/zepto-cmp.XXXXXX)
sock=$sockdir/s.sock
export_dir=$WORK/export
canary_dir=$WORK/canary
mkdir -p "$export_dir" "$canary_dir" "$WORK/local"
daemon=
mounter=
mnt=$WORK/mnt
cleanup() {
    if [ -n "$mounter" ]; then
        kill -TERM "$mounter" 2>/dev/null || true
        wait "$mounter" 2>/dev/null || true
    fi
    if grep -q " $mnt fuse" /proc/mounts 2>/dev/null; then
        fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
    fi
    if [ -n "$daemon" ]; then
        kill -TERM "$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null || true
    fi
    rm -rf "$sockdir"
}
trap cleanup EXIT

# wait_for SECONDS CMD...: polls CMD until it succeeds; fails after SECONDS.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# The daemon, in a private mount namespace when we may make one: there a tmpfs over $canary_dir
# holds a canary file that exists for the daemon only.
serve=("$ZEPTO" zoid serve --listen "unix:$sock" --export "$export_dir")
canary=0
if unshare -m --propagation private true 2>/dev/null; then
    canary=1
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare -m --propagation private sh -c \
        'mount -t tmpfs zoid-canary "$1" && echo zoid-canary-secret >"$1/canary" && shift && exec "$@"' \
        sh "$canary_dir" "${serve[@]}" 2>"$WORK/daemon.log" &
else
    echo "note: no private mount namespace (unshare -m failed): the canary escape checks are skipped"
    "${serve[@]}" 2>"$WORK/daemon.log" &
fi
daemon=$!
listening_or_gone() { test -S "$sock" || ! kill -0 "$daemon" 2>/dev/null; }
wait_for 20 listening_or_gone || true
if ! test -S "$sock"; then
    echo "FAIL: the daemon did not listen on $sock: $(cat "$WORK/daemon.log")" >&2
    exit 1
fi
# The canary is there for the daemon (its mount namespace, seen through /proc/PID/root), and
# only for it: otherwise the canary checks below could not fail.
if [ "$canary" -eq 1 ]; then
    grep -q zoid-canary-secret "/proc/$daemon/root$canary_dir/canary" ||
        fail "the daemon's namespace has no canary: the escape checks below prove nothing"
    [ -z "$(ls -A "$canary_dir")" ] || fail "the canary is visible outside the daemon's namespace"
fi

# The reference: the script run locally.
mkdir "$WORK/local/dir"
if ! "$ops" "$WORK/local/dir" >"$WORK/local.out" 2>"$WORK/local.err"; then
    fail "posix_ops failed locally: $(cat "$WORK/local.err")"
fi
grep -q '^list at the end = 2 entries' "$WORK/local.out" || fail "the local run did not finish"

# compare NAME: diffs $WORK/NAME.out against the local run and checks the export is clean.
compare() {
    if ! diff -u "$WORK/local.out" "$WORK/$1.out" >"$WORK/$1.diff"; then
        fail "$1 differs from the local run ($(grep -c '^[-+][^-+]' "$WORK/$1.diff") lines):
$(head -60 "$WORK/$1.diff")"
    fi
    local left
    left=$(ls -A "$export_dir/dir" 2>&1)
    [ -z "$left" ] || fail "$1 left files in the export: $left"
    # A fresh directory for the next run, whatever this one left.
    rm -rf "$export_dir/dir"
    mkdir "$export_dir/dir"
}

# escape_checks NAME ROOT RUNNER...: the symlinks in the export are already in place; RUNNER is
# the command prefix that makes a program see ROOT (the interposer or nothing for FUSE).
escape_checks() {
    local name=$1 root=$2
    shift 2
    local out status link
    # Through the daemon, none of these may resolve: the interposer must fail outright.
    for link in etc_link/hostname root_link/etc/hostname proc_link/etc/hostname \
        rel_link/etc/hostname; do
        status=0
        out=$("$@" cat "$root/$link" 2>&1) || status=$?
        if [ "$name" = preload ]; then
            [ "$status" -ne 0 ] || fail "$name: cat $link succeeded (escape): $out"
            grep -Eq 'Too many levels|cross-device|No such file|Invalid cross|Permission' \
                <<<"$out" || fail "$name: cat $link: unexpected error: $out"
        fi
        # FUSE: the client's kernel follows symlinks itself (as over NFS): it reaches the
        # client's own /etc, which the daemon never touched. Only the canary proves the daemon.
    done
    status=0
    out=$("$@" ls "$root/root_link/" 2>&1) || status=$?
    if [ "$name" = preload ] && [ "$status" -eq 0 ]; then
        fail "$name: ls root_link/ listed the daemon's /: $out"
    fi
    if [ "$canary" -eq 1 ]; then
        for link in abs_canary/canary rel_canary/canary dotdot/canary/canary; do
            out=$("$@" cat "$root/$link" 2>&1) || true
            if grep -q zoid-canary-secret <<<"$out"; then
                fail "$name: $link showed the daemon-only canary: the daemon followed an escape"
            fi
        done
        out=$("$@" ls -a "$root/abs_canary/" "$root/rel_canary/" 2>&1) || true
        grep -q '^canary$' <<<"$out" && fail "$name: listing through a symlink showed the canary"
        # `..` above the export, written in the path itself, through a forwarded directory
        # descriptor: the interposer must not send it to the daemon unresolved.
        out=$("$@" cat "$root/dir/../../canary/canary" 2>&1) || true
        grep -q zoid-canary-secret <<<"$out" && fail "$name: dir/../../canary/canary escaped"
    fi
    # The link text itself is readable and unchanged.
    out=$("$@" readlink "$root/etc_link" 2>&1) || true
    [ "$out" = /etc ] || fail "$name: readlink etc_link gave '$out', expected /etc"
}

mkdir "$export_dir/dir"
ln -s /etc "$export_dir/etc_link"
ln -s / "$export_dir/root_link"
ln -s /proc/self/root "$export_dir/proc_link"
ln -s ../../../../../../../../../../.. "$export_dir/rel_link"
ln -s "$canary_dir" "$export_dir/abs_canary"
ln -s ../canary "$export_dir/rel_canary"
ln -s .. "$export_dir/dotdot"

case $MODE in
preload)
    prefix=$WORK/fwd # does not exist locally: what is not forwarded fails
    for c in strict relaxed; do
        run=("$ZEPTO" zoid run --server "unix:$sock" --mount "$prefix" --consistency "$c" --)
        status=0
        "${run[@]}" "$ops" "$prefix/dir" >"$WORK/preload-$c.out" 2>"$WORK/preload-$c.err" ||
            status=$?
        [ "$status" -eq 0 ] || fail "posix_ops through the interposer ($c) exited $status: \
$(head -c 2000 "$WORK/preload-$c.err")"
        compare "preload-$c"
    done
    escape_checks preload "$prefix" "${run[@]}"
    ;;
fuse)
    mkdir -p "$mnt"
    for c in strict relaxed; do
        "$ZEPTO" zoid mount --server "unix:$sock" --consistency "$c" --foreground "$mnt" \
            2>"$WORK/mount-$c.log" &
        mounter=$!
        # Mounted, or the mounter gave up (then at once, not after the deadline).
        mounted_or_gone() { grep -q " $mnt fuse" /proc/mounts || ! kill -0 "$mounter" 2>/dev/null; }
        wait_for 20 mounted_or_gone || true
        if ! grep -q " $mnt fuse" /proc/mounts; then
            fail "zepto zoid mount ($c) did not mount $mnt: $(cat "$WORK/mount-$c.log")"
            break
        fi
        status=0
        "$ops" "$mnt/dir" >"$WORK/fuse-$c.out" 2>"$WORK/fuse-$c.err" || status=$?
        [ "$status" -eq 0 ] || fail "posix_ops on the FUSE mount ($c) exited $status: \
$(head -c 2000 "$WORK/fuse-$c.err")"
        compare "fuse-$c"
        [ "$c" = strict ] && escape_checks fuse "$mnt"
        # SIGTERM unmounts cleanly.
        kill -TERM "$mounter"
        status=0
        wait "$mounter" || status=$?
        mounter=
        [ "$status" -eq 0 ] || fail "zepto zoid mount ($c) exited $status on SIGTERM"
        if grep -q " $mnt fuse" /proc/mounts; then
            fail "$mnt is still mounted after SIGTERM"
            fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" || true
        fi
    done
    ;;
esac

kill -0 "$daemon" 2>/dev/null || fail "the daemon died: $(tail -5 "$WORK/daemon.log")"
finish
