# Shared by the zoid_preload_* tests: a daemon on a scratch export and `zepto zoid run` around a
# program. Sourced after lib.sh. The mount prefix /zoid-mnt does not exist locally: everything
# under it is the export.
MNT=/zoid-mnt
SOCK="$WORK/zoid.sock"
EXPORT="$WORK/export"
DAEMON=
starts=0

# start_daemon [serve options]: starts the daemon and waits (at most 10 s) for its plugin line.
start_daemon() {
    starts=$((starts + 1))
    mkdir -p "$EXPORT"
    local log="$WORK/daemon.$starts.log"
    "$ZEPTO" zoid serve --listen "${ZOID_TEST_TRANSPORT:-unix}:$SOCK" --export "$EXPORT" "$@" 2>"$log" &
    DAEMON=$!
    local i
    for i in $(seq 200); do
        grep -q "plugin 1 posix" "$log" 2>/dev/null && [ -S "$SOCK" ] && return 0
        kill -0 "$DAEMON" 2>/dev/null || break
        sleep 0.05
    done
    echo "FAIL: the daemon did not start: $(cat "$log")" >&2
    exit 1
}

# start_daemon_tcp [serve options]: a daemon on TCP loopback with a token in $WORK/token (its
# clients act as the daemon's uid); sets TCP_SERVER (tcp:127.0.0.1:PORT) and TOKEN. A port found
# taken (the daemon exits) is tried again elsewhere.
start_daemon_tcp() {
    TOKEN="$WORK/token"
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOKEN")
    mkdir -p "$EXPORT"
    local try port log i
    for try in 1 2 3 4 5 6 7 8; do
        starts=$((starts + 1))
        port=$((20000 + RANDOM % 40000))
        log="$WORK/daemon.$starts.log"
        "$ZEPTO" zoid serve --listen "tcp:127.0.0.1:$port" --token-file "$TOKEN" \
            --export "$EXPORT" "$@" 2>"$log" &
        DAEMON=$!
        for i in $(seq 200); do
            if grep -q "plugin 1 posix" "$log" 2>/dev/null && kill -0 "$DAEMON" 2>/dev/null; then
                TCP_SERVER="tcp:127.0.0.1:$port"
                return 0
            fi
            kill -0 "$DAEMON" 2>/dev/null || break
            sleep 0.05
        done
        stop_daemon
    done
    echo "FAIL: no TCP daemon started: $(cat "$log")" >&2
    exit 1
}

# stop_daemon [SIGNAL]: stops it (SIGTERM by default) and reaps it.
stop_daemon() {
    [ -n "$DAEMON" ] || return 0
    kill "-${1:-TERM}" "$DAEMON" 2>/dev/null
    wait "$DAEMON" 2>/dev/null
    DAEMON=
}
SHARED=
trap 'stop_daemon; [ -z "$SHARED" ] || rm -rf "$SHARED"' EXIT

# share_with_nobody: for tests whose clients run as another uid (setpriv). $WORK and the build
# may sit below a directory only root can enter (a clone made with mktemp -d): then the daemon's
# socket, the export, the preload library and the test program ($ZPE, $ZPP) move to a scratch
# directory anyone can enter, removed at exit, and `zoid run` preloads the copy
# (ZEPTO_ZOID_PRELOAD_LIB). Call before start_daemon.
share_with_nobody() {
    local lib="${ZPL_LIB:-$(dirname "$ZEPTO")/../lib/libzoid-preload.so}"
    local as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    if "${as_nobody[@]}" test -x "$WORK" -a -r "$lib" -a -x "$ZEPTO" 2>/dev/null; then
        return 0
    fi
    SHARED=$(mktemp -d /tmp/zepto-zoid.XXXXXX) && chmod 0755 "$SHARED" || return 1
    SOCK="$SHARED/zoid.sock"
    EXPORT="$SHARED/export"
    cp "$lib" "$SHARED/libzoid-preload.so"
    ZPL_LIB="$SHARED/libzoid-preload.so"
    export ZEPTO_ZOID_PRELOAD_LIB="$ZPL_LIB"
    if [ -n "${ZPE:-}" ]; then cp "$ZPE" "$SHARED/" && ZPE="$SHARED/$(basename "$ZPE")"; fi
    if [ -n "${ZPP:-}" ]; then cp "$ZPP" "$SHARED/" && ZPP="$SHARED/$(basename "$ZPP")"; fi
    echo "note: $WORK is not reachable by other uids; socket, export and programs in $SHARED"
}

# zrun [run options --] CMD...: the program under the interposer, never more than 60 s.
zrun() {
    timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" -- "$@"
}
zrun_relaxed() {
    timeout 60 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" --consistency relaxed \
        -- "$@"
}

# sums DIR: sha256 of every regular file under DIR, by relative path.
sums() {
    (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2)
}

# wait_for_file PATH [SECONDS]: polls until PATH exists (or fails).
wait_for_file() {
    local i
    for i in $(seq $((${2:-10} * 20))); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    return 1
}
