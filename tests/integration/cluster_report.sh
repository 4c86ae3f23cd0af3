# The allocation report on the test cluster (issue 13 part 4): `srun -N 2 zepto report --quick
# -o DIR` writes one page for both nodes: the per-node table, the links to each node's own report
# (which exist), report.json with 2 nodes and the cluster summary. Then a node killed mid-report:
# the page is still written with that node marked missing, and the step fails with one line
# naming it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
cluster_require jq python3
cluster_up 2

# The whole allocation on one page.
dir="$WORK/alloc"
srun -N 2 "$ZEPTO" report --quick -o "$dir" >"$WORK/srun.out" 2>"$WORK/srun.err" ||
  fail "srun -N 2 zepto report exited $?: $(tail -3 "$WORK/srun.err")"
grep -qx "report written to $dir/index.html (2 of 2 nodes)" "$WORK/srun.out" ||
  fail "no page line: $(cat "$WORK/srun.out")"
grep -qx "zepto report: zn2: node report written to $dir/nodes/zn2/index.html" "$WORK/srun.out" ||
  fail "zn2 did not say where its report is: $(cat "$WORK/srun.out")"
python3 -m json.tool "$dir/report.json" >/dev/null || fail "report.json does not parse"
schema_check report-alloc "$dir/report.json"
jq -e '(.nodes | length) == 2 and ([.nodes[].host] | sort) == ["zn1", "zn2"] and
       ([.nodes[] | .state == "ok" and .noise_fraction >= 0 and .p99_ns > 0 and
         (.outlier | type) == "boolean"] | all) and
       .allocation.nodes_expected == 2 and .allocation.nodes_delivered == 2 and
       .cluster.nodes_count == 2 and (.predicted_allreduce.points | length) == 4 and
       .predicted_allreduce.points[3].ranks == 1000000 and .predicted_allreduce.patterns_nodes == 2' \
  "$dir/report.json" >/dev/null || fail "report.json: $(jq -c 'del(.cluster)' "$dir/report.json")"
# zn1 (CPU 0) and zn2 (CPU 1) share the machine but not a CPU: they ran at once, and the page
# says that they shared the machine.
jq -e '[.nodes[].cpus] == ["0", "1"] and (.allocation.cpu_sharing | test("same machine"))' \
  "$dir/report.json" >/dev/null || fail "cpus/sharing: $(jq -c .allocation "$dir/report.json")"
page="$dir/index.html"
grep -q '<table id="node-table">' "$page" || fail "no node table"
[ "$(grep -c '<tr class="node-ok">' "$page")" -eq 2 ] || fail "the table does not have 2 node rows"
for h in zn1 zn2; do
  grep -q "<td><a href=\"nodes/$h/index.html\">$h</a></td>" "$page" || fail "no row for $h"
done
# Every link of the page resolves to a file that exists.
links=$(grep -o 'href="[^"#]*"' "$page" | sed 's/^href="//; s/"$//' | sort -u)
[ "$(echo "$links" | grep -c '^nodes/zn[12]/index.html$')" -eq 2 ] || fail "links: $links"
for l in $links; do
  [ -s "$dir/$l" ] || fail "link $l does not resolve"
done
grep -q '<h1>Zepto report: zn1</h1>' "$dir/nodes/zn1/index.html" || fail "zn1's own report is not zn1's"
grep -q '<table id="prediction-table">' "$page" || fail "no prediction table"
if command -v gnuplot >/dev/null; then
  for p in alloc-noise alloc-detours alloc-scale; do
    grep -q "<img src=\"$p.svg\"" "$page" && grep -q '<svg' "$dir/$p.svg" || fail "plot $p missing"
  done
fi

# zn2 killed once it has started: the page marks it missing, the step fails naming it.
dir2="$WORK/killed"
cat >"$WORK/task.sh" <<EOS
if [ "\$SLURM_NODEID" = 1 ]; then
  "$ZEPTO" report --quick --wait 15s -o "$dir2" >/dev/null 2>&1 &
  pid=\$!
  for _ in \$(seq 300); do
    ls "$dir2"/parts/*/hello.n1 >/dev/null 2>&1 && break
    sleep 0.1
  done
  kill -9 \$pid
  exit 0
fi
exec "$ZEPTO" report --quick --wait 15s -o "$dir2"
EOS
status=0
srun -N 2 bash "$WORK/task.sh" >"$WORK/k.out" 2>"$WORK/k.err" || status=$?
[ "$status" -ne 0 ] || fail "a step with a killed node succeeded"
grep -Eq '^zepto report: 1 of 2 nodes did not deliver within 15 s: zn2 \(marked on .*/index.html\)$' "$WORK/k.err" ||
  fail "no line naming the missing node: $(cat "$WORK/k.err")"
jq -e '.allocation.nodes_delivered == 1 and
       (.nodes[] | select(.host == "zn2") | .state == "missing" and (.error | test("started")))' \
  "$dir2/report.json" >/dev/null || fail "killed zn2 not missing: $(jq -c .nodes "$dir2/report.json")"
grep -q '<tr class="node-missing"><td>zn2</td>' "$dir2/index.html" || fail "zn2 not marked on the page"
finish
