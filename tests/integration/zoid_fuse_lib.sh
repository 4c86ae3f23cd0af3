# What the `zepto zoid mount` tests share (sourced after lib.sh): a daemon on a scratch export,
# mounts that are waited for by polling /proc/mounts, and a trap that unmounts and stops all of
# them on every way out, so that a failed test leaves no mount behind.
#   start_daemon NAME [serve options]   daemon on unix:$WORK/NAME.sock exporting $WORK/NAME-export
#   mount_fg MNT ADDR [mount options]   `zepto zoid mount --foreground` in the background; sets
#                                       $mount_pid and waits until MNT is mounted (or returns 1)
#   require_fuse                        exit 77 with the reason when FUSE cannot be used here

daemon_pids=()
# Background jobs of a script start with SIGINT ignored, which the mount would inherit: restore it
# so that SIGINT can be tested (env -S/--default-signal: coreutils 8.31).
mount_prefix=()
env --default-signal=INT true 2>/dev/null && mount_prefix=(env --default-signal=INT)
mount_pids=()
mounts=()

is_mounted() {
    awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { found = 1 } END { exit !found }' /proc/mounts
}

fuse_cleanup() {
    local m p
    for m in "${mounts[@]}"; do
        if is_mounted "$m"; then
            fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        fi
    done
    for p in "${mount_pids[@]}" "${daemon_pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${mount_pids[@]}" "${daemon_pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    # rmdir only: a mount point that is somehow still mounted stays (EBUSY), with what it holds.
    [ -z "$fuse_shared" ] || rmdir "$fuse_shared"/* "$fuse_shared" 2>/dev/null
}

# shared_dir: prints a fresh directory under /tmp that other uids can enter, for mount points
# that setpriv'd clients use ($WORK may sit below a directory only root can enter, as in a clone
# made with mktemp -d). Removed (rmdir) by the trap.
fuse_shared=""
shared_dir() {
    fuse_shared=$(mktemp -d /tmp/zepto-fuse.XXXXXX) && chmod 0755 "$fuse_shared"
}
trap fuse_cleanup EXIT

# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds or SECONDS pass.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

start_daemon() {
    local name=$1
    shift
    mkdir -p "$WORK/$name-export"
    rm -f "$WORK/$name.sock"
    "$ZEPTO" zoid serve --listen "unix:$WORK/$name.sock" --export "$WORK/$name-export" "$@" \
        2>>"$WORK/$name-daemon.log" &
    daemon_pid=$!
    daemon_pids+=("$daemon_pid")
    wait_for 10 test -S "$WORK/$name.sock" || { echo "FAIL: daemon $name did not start" >&2; exit 1; }
}

# start_shm_daemon: a daemon on this node over shm: ($WORK/x.sock) exporting $exp
# ($WORK/x-export), and counter NAME: one of its `zepto zoid stat` counters.
start_shm_daemon() {
    exp="$WORK/x-export"
    mkdir -p "$exp"
    "$ZEPTO" zoid serve --listen "shm:$WORK/x.sock" --export "$exp" 2>>"$WORK/x-daemon.log" &
    daemon_pids+=($!)
    wait_for 10 test -S "$WORK/x.sock" || { echo "FAIL: the shm daemon did not start" >&2; exit 1; }
}
counter() { "$ZEPTO" zoid stat --server "shm:$WORK/x.sock" --json | jq -e ".$1"; }

mount_fg() {
    local mnt=$1 addr=$2
    shift 2
    mkdir -p "$mnt"
    mounts+=("$mnt")
    "${mount_prefix[@]}" "$ZEPTO" zoid mount --foreground --server "$addr" "$@" "$mnt" \
        2>>"$WORK/mount.log" &
    mount_pid=$!
    mount_pids+=("$mount_pid")
    wait_for 10 mount_ready "$mnt" "$mount_pid"
    is_mounted "$mnt"
}

# both_mounts: the daemon "data" and two mounts of it, relaxed at $r and strict at $s; its export
# is $exp.
both_mounts() {
    start_daemon data
    exp="$WORK/data-export"
    r="$WORK/r"
    s="$WORK/s"
    mount_fg "$r" "unix:$WORK/data.sock" --consistency relaxed || fail "relaxed mount"
    mount_fg "$s" "unix:$WORK/data.sock" --consistency strict || fail "strict mount"
}

mount_ready() {
    is_mounted "$1" || ! kill -0 "$2" 2>/dev/null
}

require_fuse() {
    [ -c /dev/fuse ] || { echo "SKIP: /dev/fuse is absent"; exit 77; }
    command -v fusermount3 >/dev/null || { echo "SKIP: fusermount3 is not installed"; exit 77; }
    start_daemon probe
    if ! mount_fg "$WORK/probe-mnt" "unix:$WORK/probe.sock"; then
        local why
        why=$(tail -n 1 "$WORK/mount.log")
        case "$why" in
        *"built without libfuse3"*) echo "SKIP: $why"; exit 77 ;;
        *"mounting on"*) echo "SKIP: mounting FUSE is not permitted here: $why"; exit 77 ;;
        esac
        echo "FAIL: the probe mount did not come up: $why" >&2
        exit 1
    fi
    fusermount3 -u "$WORK/probe-mnt"
    wait "$mount_pid"
    kill "$daemon_pid"
    wait "$daemon_pid"
}
