#!/usr/bin/env bash
# Shared by the zoid benchmarks (bench/zoid.sh, bench/zoid_shm.sh): checks the binaries, makes a
# short socket directory, starts daemons (unix:/shm: paths, or TCP loopback on a free port) and
# stops them at exit, and takes the median over rounds of an expression on the rounds' JSON.
# Source it after setting build, out and prog; then call zl_init BINARY...
# shellcheck disable=SC2154,SC2034 # build, out, prog come from the caller; bin, dir, port go to it

# zl_init BINARY...: $bin/BINARY must exist; $out is emptied; $dir is a fresh directory with an
# export folder, removed at exit along with every daemon started by zl_serve.
zl_init() {
    bin="$build/bin"
    local b
    for b in "$@"; do
        [ -x "$bin/$b" ] || { echo "$prog: $bin/$b is not built" >&2; exit 1; }
    done
    mkdir -p "$out"
    rm -f "$out"/*.json
    # Unix socket paths must fit in 108 bytes: the sockets live in a short directory of their own.
    dir=$(mktemp -d "/tmp/zepto-$prog.XXXXXX")
    mkdir "$dir/export"
    zl_daemons=()
    trap zl_cleanup EXIT
}

zl_cleanup() {
    [ ${#zl_daemons[@]} -eq 0 ] || kill "${zl_daemons[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
}

# zl_serve LOG ADDRESS [OPTION...]: a daemon on a unix: or shm: address, its stderr in $out/LOG,
# started under ZL_SERVE_PREFIX (e.g. taskset -c 0) when set.
# Each bench waits for its daemon by retrying the connection (--wait).
ZL_SERVE_PREFIX=()
zl_serve() {
    local log=$1 addr=$2
    shift 2
    "${ZL_SERVE_PREFIX[@]}" "$bin/zepto" zoid serve --listen "$addr" --export "$dir/export" "$@" 2>"$out/$log" &
    zl_daemons+=($!)
}

zl_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# zl_serve_tcp LOG: a --insecure daemon on TCP loopback; sets port. Exits when no port is found.
zl_serve_tcp() {
    local p pid
    port=
    for _ in 1 2 3 4 5 6 7 8; do
        p=$((20000 + RANDOM % 40000))
        zl_listening "$p" && continue # taken
        "$bin/zepto" zoid serve --listen "tcp:127.0.0.1:$p" --insecure --export "$dir/export" \
            2>"$out/$1" &
        pid=$!
        # Ours once it accepts and is still alive (a daemon that found the port taken exits).
        for _ in $(seq 500); do
            zl_listening "$p" && break
            kill -0 "$pid" 2>/dev/null || break
        done
        if kill -0 "$pid" 2>/dev/null && zl_listening "$p"; then
            zl_daemons+=("$pid")
            port=$p
            return 0
        fi
    done
    echo "$prog: no TCP port for the daemon" >&2
    exit 1
}

# zl_med EXPR FILE...: the median over FILEs (one round's JSON each) of the jq EXPR.
zl_med() {
    local e=$1
    shift
    jq -s "[.[] | $e] | sort | if length % 2 == 1 then .[length / 2 | floor]
           else (.[length / 2 - 1] + .[length / 2]) / 2 end" "$@"
}
