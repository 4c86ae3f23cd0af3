# The allocation report's cooperation and bad input without a cluster: tasks of a job step faked
# through the launcher's environment (SLURM_*, OMPI_COMM_WORLD_*) on this machine. A broken
# environment, a DIR that cannot be written, a bad --wait: one line each. A second task of a node
# does nothing. Two tasks with one host name: the second fails naming the host, the page marks
# it. A node that never starts: the page is written after the bound with the node missing, and a
# leftover DIR of an earlier job is not mixed in.
. "$(dirname "$0")/lib.sh"

# task NODEID HOST JOB [NNODES [VAR=VALUE...]] -- zepto ARGS: one task of a faked Slurm step.
task() {
    local node=$1 host=$2 job=$3 nn=$4
    shift 4
    env -u OMPI_COMM_WORLD_RANK SLURM_JOB_ID="$job" SLURM_STEP_ID=0 SLURM_PROCID="$node" \
        SLURM_NTASKS="$nn" SLURM_NODEID="$node" SLURM_LOCALID=0 SLURM_STEP_NUM_NODES="$nn" \
        SLURM_STEP_NODELIST="rpa[1-$nn]" SLURMD_NODENAME="$host" SLURM_CLUSTER_NAME=fake \
        SLURM_SRUN_COMM_PORT= "$@"
}

# A broken environment: one line naming the variable, exit 1.
expect_status 1 '^zepto report: SLURM_PROCID 5, SLURM_NODEID 0 do not fit 2 tasks on 2 nodes$' \
    task 0 a 1 2 env SLURM_PROCID=5 "$ZEPTO" report -o "$WORK/x"
expect_status 1 '^zepto report: SLURM_NODEID: ' task 0 a 1 2 env SLURM_NODEID=x "$ZEPTO" report -o "$WORK/x"
expect_status 1 '^zepto report: Open MPI: neither PMIX_NAMESPACE nor OMPI_MCA_ess_base_jobid is set$' \
    env OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_LOCAL_RANK=0 \
    OMPI_COMM_WORLD_LOCAL_SIZE=1 "$ZEPTO" report -o "$WORK/x"
[ ! -e "$WORK/x" ] || fail "a broken environment left $WORK/x"
# Bad --wait: usage.
expect_status 2 '^zepto report: --wait' "$ZEPTO" report --wait 0 -o "$WORK/x"
expect_status 2 '^zepto report: --wait' "$ZEPTO" report --wait soon -o "$WORK/x"

# The second task of a node does nothing and says so.
expect_ok task 1 a 1 2 env SLURM_LOCALID=1 "$ZEPTO" report -o "$WORK/x"
grep -qx 'zepto report: task 1 on a: the node is reported by its first task' "$WORK/stdout" ||
    fail "second task: $(cat "$WORK/stdout")"
[ ! -e "$WORK/x" ] || fail "a second task of a node wrote $WORK/x"
expect_ok env OMPI_COMM_WORLD_RANK=3 OMPI_COMM_WORLD_SIZE=4 OMPI_COMM_WORLD_LOCAL_RANK=1 \
    OMPI_COMM_WORLD_LOCAL_SIZE=2 PMIX_NAMESPACE=ns "$ZEPTO" report -o "$WORK/x"
grep -q 'reported by its first task' "$WORK/stdout" || fail "Open MPI second task: $(cat "$WORK/stdout")"

# A DIR that cannot be written (a file in the way; /proc does not take directories).
: >"$WORK/afile"
expect_status 1 "afile: (Not a directory|not a directory)" task 0 a 1 2 "$ZEPTO" report -o "$WORK/afile"
expect_status 1 "^zepto report: /proc/zepto-report: " task 0 a 1 2 "$ZEPTO" report -o /proc/zepto-report

# Two tasks with one host name: node 1 fails at once naming the host; node 0 reports and its page
# marks node 1 failed with the reason (it does not wait the bound for it).
d="$WORK/dup"
task 0 dup 7 2 "$ZEPTO" report --quick --wait 120s -o "$d" >"$WORK/t0.out" 2>"$WORK/t0.err" &
t0=$!
for _ in $(seq 200); do
    [ -e "$d/parts/fake-7.0/claim.dup" ] && break
    sleep 0.05
done
expect_status 1 '^zepto report: host dup is reported by two tasks of job fake-7.0 \(ranks 0 and 1\)' \
    task 1 dup 7 2 "$ZEPTO" report --quick -o "$d"
status=0
wait $t0 || status=$?
[ "$status" -eq 1 ] || fail "node 0 of the duplicate step exited $status: $(cat "$WORK/t0.err")"
grep -Eq '^zepto report: 1 of 2 nodes did not deliver within 120 s: dup ' "$WORK/t0.err" ||
    fail "node 0 did not name the failed node: $(cat "$WORK/t0.err")"
jq -e '.allocation.job == "fake-7.0" and .allocation.waited_s < 60 and
       (.nodes[1] | .state == "failed" and (.error | test("reported by two tasks"))) and
       .nodes[0].state == "ok"' "$d/report.json" >/dev/null ||
    fail "duplicate: $(jq -c '.allocation, .nodes' "$d/report.json")"
schema_check report-alloc "$d/report.json"
schema_check report "$d"/nodes/*/report.json

# The same DIR again, a new job whose node 1 never starts: after the bound (2 s) the page says so
# and the step fails; the earlier job's parts are not mixed in.
expect_status 1 '^zepto report: 1 of 2 nodes did not deliver within 2 s: rpa2 \(marked on ' \
    task 0 rpa1 8 2 "$ZEPTO" report --quick --wait 2s -o "$d"
grep -qx "report written to $d/index.html (1 of 2 nodes)" "$WORK/stdout" ||
    fail "no page line: $(cat "$WORK/stdout")"
jq -e '.allocation.job == "fake-8.0" and .allocation.nodes_delivered == 1 and
       ([.nodes[].host] == ["rpa1", "rpa2"]) and
       (.nodes[1] | .state == "missing" and (.error | test("never started"))) and
       .cluster.nodes_count == 1' "$d/report.json" >/dev/null ||
    fail "missing node: $(jq -c '.allocation, .nodes' "$d/report.json")"
schema_check report-alloc "$d/report.json"
grep -q '<tr class="node-missing"><td>rpa2</td>' "$d/index.html" || fail "rpa2 not marked missing"
grep -q 'href="nodes/dup/' "$d/index.html" && fail "the earlier job's node is on the new page"
finish
