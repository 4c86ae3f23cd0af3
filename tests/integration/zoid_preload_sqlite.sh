# sqlite3 through the interposer: a database in the mount, 10,000 rows inserted in 100
# transactions (pwrite, fsync, fcntl record locks, a rollback journal created and deleted each
# time), read back, checked, and compared with the same script run on a local file; then a
# relaxed-consistency run of the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/zoid_preload_lib.sh"

command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 is not installed"; exit 77; }

sql="$WORK/load.sql"
{
    echo "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);"
    echo "CREATE INDEX tk ON t(k);"
    for tx in $(seq 0 99); do
        echo "BEGIN;"
        for i in $(seq 1 100); do
            n=$((tx * 100 + i))
            echo "INSERT INTO t(k, v) VALUES('key$n', randomblob($((n % 500))));"
        done
        echo "COMMIT;"
    done
} >"$sql"
query="SELECT count(*), sum(length(v)), min(k), max(id) FROM t; PRAGMA integrity_check;"

start_daemon
for mode in strict relaxed; do
    db="$MNT/db-$mode.sqlite"
    status=0
    timeout 120 "$ZEPTO" zoid run --server "unix:$SOCK" --mount "$MNT" --consistency "$mode" \
        -- sqlite3 "$db" <"$sql" >"$WORK/out" 2>&1 || status=$?
    [ "$status" -eq 0 ] || fail "$mode: sqlite3 exited $status: $(head -3 "$WORK/out")"
    expect_ok zrun sqlite3 "$db" "$query"
    got=$(cat "$WORK/stdout")
    # The same through the export directly, without the interposer.
    local_got=$(sqlite3 "$EXPORT/db-$mode.sqlite" "$query")
    [ "$got" = "$local_got" ] || fail "$mode: through the mount '$got', locally '$local_got'"
    case "$got" in
    "10000|"*"|key1|10000"*ok) ;;
    *) fail "$mode: unexpected result '$got'" ;;
    esac
    [ ! -e "$EXPORT/db-$mode.sqlite-journal" ] || fail "$mode: a journal was left behind"
done
# Reference: the same load on a local file gives the same row count and sum of lengths.
sqlite3 "$WORK/local.sqlite" <"$sql" >/dev/null
ref=$(sqlite3 "$WORK/local.sqlite" "SELECT count(*), sum(length(v)) FROM t")
[ "$ref" = "$(sqlite3 "$EXPORT/db-strict.sqlite" "SELECT count(*), sum(length(v)) FROM t")" ] ||
    fail "the forwarded database differs from the local one"

stop_daemon
finish
