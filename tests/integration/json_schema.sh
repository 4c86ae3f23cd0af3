# The output contracts (docs/schema): every command's --json output, run on small real inputs,
# validates against its schema; the schemas' names, $id and schema_version agree; a command that
# offers --json without a schema fails the coverage check; and the checks themselves catch a
# wrong output, a wrong $id and a missing table line.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
schemas=$here/../../docs/schema
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
    echo "SKIP: python3-jsonschema is not installed (scripts/deps.sh installs it)"
    exit 77
fi
js() { "$py" "$here/json_schema.py" "$@"; }
cd "$WORK" || exit 1

js schemas "$schemas" || fail "the schemas themselves (above)"
js coverage "$schemas" "$ZEPTO" || fail "a --json command without a schema (above)"

# The checks catch what they are for.
mkdir -p neg && cp "$schemas"/*.json "$schemas/README.md" neg/
grep -v '^| `zepto zoid stat' "$schemas/README.md" >neg/README.md
js coverage neg "$ZEPTO" >neg.out && fail "coverage passed without the zoid stat line"
grep -q 'zoid stat offers --json' neg.out || fail "coverage did not name zoid stat: $(cat neg.out)"
sed -i 's/urn:zepto:schema:zoid-stat:v1/urn:zepto:schema:zoid-stat:v2/' neg/zoid-stat.v1.json
js schemas neg >neg.out && fail "a wrong \$id passed"
echo '{"schema_version": 2, "server": "unix:x"}' | js validate "$schemas" zoid-stat - >/dev/null &&
    fail "schema_version 2 passed the v1 contract"
echo '{"schema_version": 1, "read_calls": "many"}' | js validate "$schemas" zoid-stat - >/dev/null &&
    fail "a string where a number belongs passed"

# noise: record, analyse (one trace, several), play, simulate, collective.
"$ZEPTO" noise record -q -d 0.2s -c 0 -o a.znt --json >record.json || fail "noise record"
schema_check noise-summary record.json
"$ZEPTO" noise record -q -d 0.2s -o b.znt >/dev/null || fail "noise record (all CPUs)"
"$ZEPTO" noise analyse b.znt --json >analyse.json || fail "noise analyse"
"$ZEPTO" noise analyse a.znt b.znt --json >cluster.json 2>/dev/null || fail "noise analyse (two)"
schema_check noise-summary analyse.json
schema_check noise-cluster cluster.json
"$ZEPTO" noise play --synthetic period=1ms,duration=20us -c 0 -d 0.2s -q --json \
    --report play-report.json >play.json || fail "noise play"
schema_check noise-play play.json play-report.json
"$ZEPTO" noise simulate b.znt --ranks 1024 --json >sim1.json || fail "noise simulate (trace)"
"$ZEPTO" noise simulate --synthetic period=1ms,duration=20us --ranks 4096 --op barrier --json \
    >sim2.json || fail "noise simulate (synthetic)"
schema_check noise-simulate sim1.json sim2.json
if command -v mpirun >/dev/null; then
    mpirun --allow-run-as-root --oversubscribe -np 2 "$ZEPTO" noise collective --blocks 2 --json \
        >coll.json 2>coll.err || fail "noise collective: $(tail -3 coll.err)"
    schema_check noise-collective coll.json
else
    echo "note: no mpirun: noise collective not validated"
fi

# bigmem: info, info --pid, bench.
"$ZEPTO" bigmem info --json >binfo.json || fail "bigmem info"
schema_check bigmem-info binfo.json
"$ZEPTO" bigmem info --pid $$ --json >bpid.json || fail "bigmem info --pid"
schema_check bigmem-segments bpid.json
"$ZEPTO" bigmem bench --size 8M --rounds 1 --json >bbench.json 2>/dev/null || fail "bigmem bench"
schema_check bigmem-bench bbench.json

# zoid: stat and bench against a daemon on a socket of our own (zoid_preload_lib.sh's
# start_daemon: waits for it, and stops it at exit whatever happens).
. "$here/zoid_preload_lib.sh"
start_daemon
"$ZEPTO" zoid stat --server "unix:$SOCK" --json >zstat.json || fail "zoid stat"
"$ZEPTO" zoid bench --server "unix:$SOCK" --quick --json >zbench.json 2>/dev/null ||
    fail "zoid bench"
stop_daemon
schema_check zoid-stat zstat.json
schema_check zoid-bench zbench.json

# tune, on a fake node (ZEPTO_SYSROOT): plan, apply, status, restore, status with nothing applied;
# check (as root: it records this machine's CPU 1 while it tunes the fake tree).
"$py" "$here/tune_tree.py" make tree $$ >/dev/null || fail "fake tree"
export ZEPTO_SYSROOT=$WORK/tree ZEPTO_TUNE_STATE=$WORK/tune.state
"$ZEPTO" tune plan --cpus 2-3 --json >tplan.json || fail "tune plan"
if [ "$(id -u)" -eq 0 ]; then
    "$ZEPTO" tune apply --cpus 2-3 --json >tapply.json 2>/dev/null || fail "tune apply"
    "$ZEPTO" tune status --json >tstatus.json || fail "tune status"
    "$ZEPTO" tune restore --json >trestore.json 2>/dev/null || fail "tune restore"
    schema_check tune-plan tapply.json tstatus.json trestore.json
    if [ "$(nproc)" -ge 2 ]; then
        "$ZEPTO" tune check --cpus 1 -d 0.2s --rounds 1 --json >tcheck.json 2>tcheck.err ||
            fail "tune check: $(tail -2 tcheck.err)"
        schema_check tune-check tcheck.json
    fi
else
    echo "note: not root: tune apply/status/restore/check not validated"
fi
"$ZEPTO" tune status --json >tnone.json || fail "tune status (nothing applied)"
schema_check tune-plan tplan.json tnone.json
finish
