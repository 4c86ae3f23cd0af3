# Output files a user names (-o, --log, --report; src/base/outfile.c): a failure leaves the file
# that was there; a device or a FIFO is written into, never replaced or removed; a symbolic link
# stays a link; an output that cannot be written is refused before a long run, not after it.
. "$(dirname "$0")/lib.sh"

cd "$WORK" || exit 1
expect_ok "$ZEPTO" noise record -d 200ms -c 0 -q -o t.znt

# A failed export leaves the file that was there (a CPU not in the trace: exit 2).
echo precious >keep.csv
expect_status 2 "CPU 7 is not in the trace" "$ZEPTO" noise export t.znt -f csv -c 7 -o keep.csv
[ "$(cat keep.csv)" = precious ] || fail "a refused export changed keep.csv: $(head -c 80 keep.csv)"
expect_status 2 "CPU 1 is not in the trace" "$ZEPTO" noise export t.znt -f loggopsim -c 1 -o keep.csv
[ "$(cat keep.csv)" = precious ] || fail "a refused export changed keep.csv"

# A successful one replaces it, keeping its permissions.
chmod 600 keep.csv
expect_ok "$ZEPTO" noise export t.znt -f csv -o keep.csv
head -1 keep.csv | grep -q '^cpu,start_ns,duration_ns$' || fail "export: $(head -1 keep.csv)"
[ "$(stat -c %a keep.csv)" = 600 ] || fail "export changed keep.csv's mode to $(stat -c %a keep.csv)"

# A symbolic link stays one; the file it points to gets the trace.
ln -s real.znt link.znt
expect_ok "$ZEPTO" noise record -d 200ms -c 0 -q -o link.znt
[ -L link.znt ] || fail "noise record -o LINK replaced the link"
expect_ok "$ZEPTO" noise analyse real.znt

# A FIFO is written into, and stays a FIFO: its reader gets the whole trace.
mkfifo pipe.znt
timeout 20 cat pipe.znt >from-pipe.znt &
reader=$!
expect_ok "$ZEPTO" noise record -d 200ms -c 0 -q -o pipe.znt
wait "$reader"
[ -p pipe.znt ] || fail "noise record -o FIFO replaced the FIFO"
expect_ok "$ZEPTO" noise analyse from-pipe.znt
mkfifo pipe.csv
timeout 20 cat pipe.csv >from-pipe.csv &
reader=$!
expect_ok "$ZEPTO" noise export t.znt -f csv -o pipe.csv
wait "$reader"
[ -p pipe.csv ] || fail "noise export -o FIFO replaced the FIFO"
cmp -s from-pipe.csv <("$ZEPTO" noise export t.znt -f csv) || fail "export through a FIFO differs"

# A device that fails every write: an error naming it, and the device left where it was (a copy
# of /dev/full, made here: creating device nodes needs root).
if mknod full c 1 7 2>/dev/null; then
    expect_status 1 "full: write error: No space left on device" \
        "$ZEPTO" noise export t.znt -f csv -o full
    [ -c full ] || fail "a failed export to a device removed or replaced it"
    expect_status 1 "full: write error: No space left on device" \
        "$ZEPTO" noise record -d 100ms -c 0 -q -o full
    [ -c full ] || fail "a failed record to a device removed or replaced it"
else
    echo "note: mknod not permitted (not root): the device case is not run"
fi

# An output that cannot be written is refused at once, not after a 30 s recording or playback.
start=$(date +%s)
expect_status 1 "$WORK/none/t.znt: No such file or directory" \
    "$ZEPTO" noise record -d 30s -c 0 -q -o "$WORK/none/t.znt"
expect_status 1 "$WORK/none/log.csv: No such file or directory" \
    "$ZEPTO" noise play --synthetic period=10ms,duration=1us -c 0 -d 30s --log "$WORK/none/log.csv"
expect_status 1 "$WORK/none/r.json: No such file or directory" \
    "$ZEPTO" noise play --synthetic period=10ms,duration=1us -c 0 -d 30s --report "$WORK/none/r.json"
[ $(($(date +%s) - start)) -lt 20 ] || fail "unwritable outputs were found only after the run"
ls "$WORK"/*.tmp.* >/dev/null 2>&1 && fail "temporary files left behind: $(ls "$WORK"/*.tmp.*)"
finish
