# ktau ground truth: a program with known kernel work in known regions (ktau_regions.c) under
# `zepto ktau run`; the merged TAU profile must charge each to its region, within 10 %:
# 20,000 getppid calls to A, 200 ms blocked to B, 65,536 page faults to C, and to D the time a
# higher-priority thread took its CPU. trace.json must be valid JSON with well-formed events.
. "$(dirname "$0")/lib.sh"
PROG=$BIN/ktau_regions
OUT=$WORK/prof

status=0
"$ZEPTO" ktau run -o "$OUT" -- "$PROG" >"$WORK/out" 2>"$WORK/err" || status=$?
if grep -Eq 'refused|tracefs' "$WORK/err"; then
    echo "skipped: kernel capture not permitted here: $(head -1 "$WORK/err")"
    exit 77
fi
[ "$status" -eq 0 ] || fail "ktau run exited $status: $(cat "$WORK/err")"
P=$OUT/profile.0.0.0
[ -f "$P" ] || { fail "no $P"; finish; }

# An independent reader of TAU's format: field 2 of a '"'-split line is the name, then
# calls subrs excl incl.
tau() { # tau NAME COLUMN(1=calls,2=subrs,3=excl,4=incl)
    awk -F'"' -v n="$1" -v c="$2" '$2 == n { split($3, a, " "); print a[c]; found = 1 }
        END { if (!found) print "missing" }' "$P"
}
within() { # within NAME GOT WANT
    if [ "$2" = missing ]; then
        fail "$1: not in the profile"
        return
    fi
    awk -v g="$2" -v w="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= 0.10 * w) }' ||
        fail "$1: $2, expected $3 within 10 %"
    echo "$1: $2 (expected $3)"
}

head -1 "$P" | grep -Eq '^[0-9]+ templated_functions_MULTI_TIME$' || fail "bad first line of $P"
sed -n 2p "$P" | grep -q '^# Name Calls Subrs Excl Incl ProfileCalls' || fail "bad header of $P"
n=$(head -1 "$P" | cut -d' ' -f1)
[ "$(sed -n "3,$((n + 2))p" "$P" | grep -c 'GROUP="')" -eq "$n" ] || fail "$P: $n functions announced"

within "A => sys_getppid calls" "$(tau 'A => sys_getppid' 1)" 20000
within "A calls" "$(tau A 1)" 1
within "B => blocked us" "$(tau 'B => blocked' 4)" 200000
within "C => page_fault_user calls" "$(tau 'C => page_fault_user' 1)" 65536
if grep -q '^d=skipped' "$WORK/out"; then
    echo "region D $(grep '^d=skipped' "$WORK/out")"
else
    want=$(awk -F= '$1 == "d_preempt_ns" { print $2 / 1000 }' "$WORK/out")
    within "D => preempted us" "$(tau 'D => preempted' 4)" "$want"
fi
# The preempting thread (no timers of its own) has a profile too: one routine, the program.
if ! grep -q '^d=skipped' "$WORK/out"; then
    grep -q '^"ktau_regions" 1 ' "$OUT/profile.0.0.1" 2>/dev/null ||
        fail "no profile of the second thread"
fi
# Kernel entries carry KTAU's groups.
grep -q '^"sys_getppid" .* GROUP="KTAU_SYSCALL"$' "$P" || fail "sys_getppid not in KTAU_SYSCALL"
grep -q '^"blocked" .* GROUP="KTAU_SCHEDULE"$' "$P" || fail "blocked not in KTAU_SCHEDULE"
grep -q '^"page_fault_user" .* GROUP="KTAU_EXCEPTION"$' "$P" || fail "faults not in KTAU_EXCEPTION"

# trace.json: valid JSON; complete events with a duration, instants, thread names only.
jq -e '.traceEvents | length > 0 and all(.ph == "X" or .ph == "i" or .ph == "M")
       and all(select(.ph == "X") | .dur >= 0 and .ts >= 0 and .pid > 0 and .tid > 0)' \
    "$OUT/trace.json" >/dev/null || fail "trace.json is not what it should be"
jq -e '[.traceEvents[] | select(.name == "A" and .ph == "X")] | length == 1' "$OUT/trace.json" \
    >/dev/null || fail "trace.json: region A is not one complete event"
grep -q 'kernel capture: on' "$OUT/summary.txt" || fail "summary.txt: $(cat "$OUT/summary.txt")"

# show prints the regions and their kernel entries.
"$ZEPTO" ktau show "$OUT" >"$WORK/show" || fail "ktau show failed"
grep -Eq '^ +[0-9.]+%.* A$' "$WORK/show" || fail "show: no row for A"
grep -q 'sys_getppid \[KTAU_SYSCALL\]' "$WORK/show" || fail "show: no sys_getppid under A"
finish
