#!/usr/bin/env bash
# What the zoid benchmarks on the test cluster share (sourced by cluster_zoid.sh and
# cluster_stream.sh): a work directory in /dev/shm with an export and a token, the cluster up
# with 4 compute nodes and the I/O node zio, the zoid daemon on zio (tcp: with the token), and
# on exit everything started taken down again.
# Before sourcing: CLUSTER (scripts/cluster.sh), bin (the build's bin), out (the output dir).
# After: work, SRV (the daemon's address), ZOID_TOKEN_FILE; cb_bg, cb_until_ok.
# shellcheck disable=SC2154 # CLUSTER, bin, out: set by the script that sources this

# cb_bg NODE NAME CMD...: CMD in NODE ("host": on this machine, outside the cluster), in the
# background; its output in $out/NAME.log, its pid in $work/NAME.pid.
cb_bg() {
    local node=$1 name=$2
    shift 2
    if [ "$node" = host ]; then
        "$@" >"$out/$name.log" 2>&1 &
        echo $! >"$work/$name.pid"
    else
        "$CLUSTER" run "$node" sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$work/$name.pid" \
            "$@" >"$out/$name.log" 2>&1 &
    fi
}

# cb_until_ok SECONDS CMD...: CMD every 0.05 s until it succeeds; 1 after SECONDS.
cb_until_ok() {
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.05
    done
}

cb_cleanup() {
    for p in "$work"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
    "$CLUSTER" down >/dev/null 2>&1 || true
    rm -rf "$work"
}

[ "$(id -u)" = 0 ] || { echo "${0##*/}: needs root (the test cluster)" >&2; exit 1; }
work=$(mktemp -d /dev/shm/zepto-cluster-bench.XXXXXX)
chmod 755 "$work"
mkdir "$work/export"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token"
chmod 600 "$work/token"
export ZOID_TOKEN_FILE=$work/token
SRV=tcp:10.213.${ZEPTO_CLUSTER_ID:-0}.100:7000
trap cb_cleanup EXIT
trap 'exit 130' INT TERM
"$CLUSTER" up 4 --io >"$out/up.log" 2>&1 || { cat "$out/up.log" >&2; exit 1; }
cb_bg zio daemon "$bin/zepto" zoid serve --listen "$SRV" --token-file "$work/token" \
    --export "$work/export"
cb_until_ok 10 grep -q 'listening on' "$out/daemon.log" || { cat "$out/daemon.log" >&2; exit 1; }
