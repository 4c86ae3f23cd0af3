# zepto bigmem bench runs every kind of memory (or says why not), its GUPS pass HPCC's check,
# bigmem takes fewer run-time page faults than 4K pages, the 2 MiB pool is left as it was (also
# after Ctrl-C), and bad input is a usage error naming the input.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }
pool=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
before=$(cat "$pool" 2>/dev/null || echo none)

expect_ok "$ZEPTO" bigmem bench --size 64M --rounds 1 --json
out="$WORK/bench.json"
cp "$WORK/stdout" "$out"
jq -e '.table_bytes == 67108864 and .rounds == 1 and (.kinds | length) == 4 and
       ([.kinds[].kind] == ["4K", "THP", "2M", "bigmem"])' "$out" >/dev/null ||
    fail "bad header: $(jq -c 'del(.kinds)' "$out")"
# Every kind ran, or says why it did not.
jq -e '[.kinds[] | .ran or (.note | length > 0)] | all' "$out" >/dev/null ||
    fail "a kind neither ran nor said why: $(jq -c '[.kinds[] | {kind, ran, note}]' "$out")"
jq -e '.kinds[0].ran' "$out" >/dev/null || fail "4K did not run: $(jq -c '.kinds[0]' "$out")"
jq -e '.kinds[3].ran' "$out" >/dev/null || fail "bigmem did not run: $(jq -c '.kinds[3]' "$out")"
# What ran measured something, and passed HPCC's check.
jq -e '[.kinds[] | select(.ran) | .gups > 0 and .chase_ns > 0 and .error_fraction <= 0.01 and
        .verified and (.runs | length) == 1 and .alloc_touch_ns > 0] | all' "$out" >/dev/null ||
    fail "bad figures: $(jq -c '[.kinds[] | {kind, gups, chase_ns, error_fraction}]' "$out")"
# bigmem pre-faults at mapping: after that, fewer faults than 4K's first touch (16384 pages).
jq -e '.kinds[3].runtime_faults < .kinds[0].runtime_faults and
       .kinds[0].runtime_faults >= 16384 * 0.9' "$out" >/dev/null ||
    fail "run-time faults: $(jq -c '[.kinds[] | {kind, runtime_faults}]' "$out")"
[ "$(cat "$pool" 2>/dev/null || echo none)" = "$before" ] ||
    fail "nr_hugepages was $before, is $(cat "$pool") after the bench"

# Text output: the table with every kind.
expect_ok "$ZEPTO" bigmem bench --size 4M --rounds 1
for k in 4K THP 2M bigmem; do
    grep -Eq "^$k " "$WORK/stdout" || fail "text output lacks the $k row: $(cat "$WORK/stdout")"
done
grep -q 'x4K' "$WORK/stdout" || fail "text output lacks the header"

# Bad input: exit 2, one line naming the input.
expect_status 2 "--size '0'" "$ZEPTO" bigmem bench --size 0
expect_status 2 "1Z" "$ZEPTO" bigmem bench --size 1Z
expect_status 2 "--size '1M'.*at least 2M" "$ZEPTO" bigmem bench --size 1M
expect_status 2 "--size '64T'.*memory" "$ZEPTO" bigmem bench --size 64T
expect_status 2 "--rounds.*'0'" "$ZEPTO" bigmem bench --rounds 0
expect_status 2 "--rounds.*'26'" "$ZEPTO" bigmem bench --rounds 26
expect_status 2 "--frobnicate" "$ZEPTO" bigmem bench --frobnicate
expect_status 2 "unexpected argument 'extra'" "$ZEPTO" bigmem bench extra
"$ZEPTO" bigmem bench --help | grep -q '^example:' || fail "--help has no example"

# Ctrl-C or kill while the pool is raised: it is put back, and the signal still ends the bench
# (root only: others cannot raise it). A shell starts background jobs with SIGINT ignored, and
# the bench leaves ignored signals alone: env --default-signal gives it the default back.
if [ "$(id -u)" -eq 0 ] && [ "$before" != none ]; then
    for sig in INT TERM; do
        env --default-signal=INT "$ZEPTO" bigmem bench --size 512M --rounds 5 >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do
            [ "$(cat "$pool")" != "$before" ] && break
            sleep 0.05
        done
        raised=$(cat "$pool")
        sleep 0.2
        kill -"$sig" "$pid"
        status=0
        wait "$pid" || status=$?
        want=$((128 + $(kill -l "$sig")))
        [ "$raised" != "$before" ] ||
            [ "$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)" -ge 256 ] ||
            fail "SIG$sig: the pool was never raised (nr_hugepages $before)"
        [ "$status" -eq "$want" ] || fail "after SIG$sig the bench exited $status, expected $want"
        [ "$(cat "$pool")" = "$before" ] ||
            fail "after SIG$sig nr_hugepages is $(cat "$pool"), was $before"
    done
fi
finish
