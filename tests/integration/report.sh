# zepto report --quick writes index.html with the tables and SVG plots, and report.json; without
# gnuplot it still writes the tables and says why the plots are missing.
. "$(dirname "$0")/lib.sh"

if ! command -v gnuplot >/dev/null; then
    echo "SKIP: gnuplot is not installed (scripts/deps.sh installs gnuplot-nox)"
    exit 77
fi
dir="$WORK/r"
expect_ok "$ZEPTO" report --quick -o "$dir"
grep -q "report written to $dir/index.html" "$WORK/stdout" || fail "report path not printed"
for f in index.html report.json noise-histogram.svg noise-scatter.svg noise-scale.svg \
    data/noise.znt data/noise-scale.dat; do
    [ -s "$dir/$f" ] || fail "$f missing"
done
schema_check report "$dir/report.json"
jq -e '.sections.noise.summary.node.noise_fraction >= 0 and .quick == true' "$dir/report.json" \
    >/dev/null || fail "report.json lacks the noise summary"
grep -q '<img src="noise-histogram.svg"' "$dir/index.html" || fail "histogram not on the page"
grep -q '<img src="noise-scatter.svg"' "$dir/index.html" || fail "scatter not on the page"
grep -q '<img src="noise-scale.svg"' "$dir/index.html" || fail "scale plot not on the page"
# The prediction at 10^2..10^6 ranks: sync stays flat; random is no lower than sync at 10^6
# ranks. Not at every scale: sync puts every rank at the trace's start, random at uniform places,
# and when the recording's first milliseconds hold its worst detours (sync 1.27 against random
# 1.07 at 100 ranks in a CI run on a busy machine) a hundred random ranks may all miss them; a
# million do not.
jq -e '.sections.noise.predicted_allreduce.points as $p | ($p | length) == 5 and
       $p[0].ranks == 100 and $p[4].ranks == 1000000 and
       ([$p[] | .slowdown_sync >= 1 and .slowdown_random >= 1] | all) and
       $p[4].slowdown_random >= $p[4].slowdown_sync * 0.999 and
       ($p[4].slowdown_sync / $p[0].slowdown_sync) < 1.05' "$dir/report.json" >/dev/null ||
    fail "predicted_allreduce: $(jq -c .sections.noise.predicted_allreduce "$dir/report.json")"
grep -q '<h2>Summary</h2>' "$dir/index.html" || fail "no summary"
grep -q '<svg' "$dir/noise-histogram.svg" || fail "histogram is not SVG"
expect_ok "$ZEPTO" noise analyse "$dir/data/noise.znt"

# Without gnuplot: tables, and the reason.
dir2="$WORK/r2"
expect_ok env ZEPTO_GNUPLOT=/nonexistent/gnuplot "$ZEPTO" report --quick -o "$dir2"
grep -q "Plot missing" "$dir2/index.html" || fail "no 'Plot missing' note"
grep -q "/nonexistent/gnuplot" "$dir2/index.html" || fail "the note does not say why"
grep -q "<table>" "$dir2/index.html" || fail "no tables without gnuplot"
[ ! -e "$dir2/noise-histogram.svg" ] || fail "a plot without gnuplot?"

# The ktau section: the built-in workload's regions with what the kernel did inside them.
[ -s "$dir/ktau/profile.0.0.0" ] || fail "ktau/profile.0.0.0 missing"
jq -e '.sections.ktau.regions | length == 6' "$dir/report.json" >/dev/null ||
    fail "ktau regions: $(jq -c .sections.ktau "$dir/report.json")"
if jq -e '.sections.ktau.kernel_capture | startswith("on")' "$dir/report.json" >/dev/null; then
    # --quick: 10,000 getppid calls, 32 MiB touched (8,192 pages), 20 sleeps.
    jq -e '.sections.ktau.regions | map({(.name): .}) | add |
           .syscalls.syscalls_count == 10000 and
           (.first_touch.page_faults_count - 8192 | fabs) <= 819 and
           .sleep.blocked_count >= 20 and .sleep.blocked_us >= 100000 and
           .file_io.syscalls_count >= 16 and .compute.wall_us >= 100000' \
        "$dir/report.json" >/dev/null ||
        fail "ktau regions: $(jq -c .sections.ktau.regions "$dir/report.json")"
    grep -q '<img src="ktau-regions.svg"' "$dir/index.html" || fail "ktau chart not on the page"
    # The noise section's detours explained: every stored detour has a cause, each counted once.
    # (--explain needs more than ktau run: root or perf_event_paranoid <= 0.)
    causes=.sections.ktau.noise_causes
    if [ "$(id -u)" -ne 0 ] && jq -e "$causes.missing" "$dir/report.json" >/dev/null; then
        echo "noise causes not checked: $(jq -r "$causes.missing" "$dir/report.json")"
    elif ! jq -e "$causes"' as $c | ($c.causes | length) >= 1 and
           (([$c.causes[].detour_time_fraction] | add) - 1 | fabs) < 0.001 and
           ([$c.causes[].detours] | add) == .sections.noise.summary.node.stored_detours and
           ([$c.causes[] | .traced_fraction >= 0 and .traced_fraction <= 1] | all)' \
        "$dir/report.json" >/dev/null; then
        fail "noise causes: $(jq -c "$causes" "$dir/report.json")"
    fi
else
    echo "ktau section without kernel capture: $(jq -r .sections.ktau.kernel_capture "$dir/report.json")"
fi
grep -q '<section id="ktau">' "$dir/index.html" || fail "no ktau section"

# An output path that is a file.
: >"$WORK/afile"
expect_status 1 "afile: (not a directory|Not a directory)" "$ZEPTO" report --quick -o "$WORK/afile"

# The bigmem section: the pools, THP, and the bench's speed-ups over 4K as a chart.
jq -e '.sections.bigmem | (.pools | type) == "array" and (.thp_enabled | type) == "string" and
       (.bench.kinds | length) == 4 and .bench.kinds[0].gups_speedup_vs_4k == 1 and
       ([.bench.kinds[] | select(.ran) | .gups_speedup_vs_4k > 0 and .chase_speedup_vs_4k > 0 and
         .verified] | all) and .bench.kinds[3].ran' "$dir/report.json" >/dev/null ||
    fail "report.json bigmem: $(jq -c '.sections.bigmem | del(.bench.kinds[].runs)' "$dir/report.json")"
# The static-array program plain and under bigmem run --static: same checksum, and (with 2 MiB
# pages or THP to be had) its arrays in huge pages and far fewer faults touching them.
# (Not in a sanitizer build: the preload cannot run under AddressSanitizer; it says so.)
jq -e '.sections.bigmem as $b | $b.static_arrays as $s |
       ($s.error // "" | test("AddressSanitizer")) or $s.rounds >= 1 and $s.checksums_equal and
       $s.plain.faults > 5000 and $s.plain.wall_ms > 0 and $s.bigmem.wall_ms > 0 and
       $s.plain.data_bytes > 80000000 and
       (($s.pool_note and $b.thp_enabled == "never") or
        ($s.bigmem.faults < $s.plain.faults / 5 and $s.bigmem.huge_bytes > $s.bigmem.data_bytes / 2))' \
    "$dir/report.json" >/dev/null ||
    fail "report.json bigmem static_arrays: $(jq -c '.sections.bigmem.static_arrays' "$dir/report.json")"
grep -q '<h3>Static arrays in huge pages</h3>' "$dir/index.html" || fail "no static-array table"
grep -q '<img src="bigmem-bench.svg"' "$dir/index.html" || fail "bigmem chart not on the page"
grep -q '<section id="bigmem">' "$dir/index.html" || fail "no bigmem section"
grep -q '<svg' "$dir/bigmem-bench.svg" || fail "bigmem chart is not SVG"
# The report leaves the 2 MiB pool as it found it (it may raise it only for its run).
pool=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -r "$pool" ]; then
    found=$(jq '.sections.bigmem.pools[] | select(.page_size_bytes == 2097152) | .total_pages' \
        "$dir/report.json")
    # Read under the reports' lock: another report running on this machine (another test run,
    # a node of the test cluster) raises the pool only while it holds the lock.
    lock=/run/lock/zepto-report-hugepages.lock
    now=$(if [ -w /run/lock ] && command -v flock >/dev/null; then flock -w 150 "$lock" cat "$pool"; else cat "$pool"; fi)
    [ "$found" = "$now" ] ||
        fail "nr_hugepages is $now after the report, the report found $found"
fi
finish
