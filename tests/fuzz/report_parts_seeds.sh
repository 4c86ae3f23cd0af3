# Seeds for fuzz_report_parts, written into the directory $1: a part file and a hello file as the
# allocation report writes them (first byte odd: the key value parser) and Slurm host lists
# (first byte even: the host list expander).
set -eu
dir=$1
mkdir -p "$dir"
printf '\001host zn1\nindex 0\nrank 0\nstatus ok\nerror \ncpus 0-1\nboot_id 76c1eae8\nwaited_for zn3\nnot_waited \nstart_unix_ns 1764835200000000000\nend_unix_ns 1764835224000000000\n' >"$dir/part"
printf '\001host zn2\nindex 1\nrank 1\ncpus 1\nboot_id 76c1eae8\nstart_unix_ns 1\n' >"$dir/hello"
printf '\000zn[1-4]' >"$dir/list1"
printf '\000zn[01-10,12],io[1-2],login' >"$dir/list2"
printf '\000r[1-2]n[1-3]' >"$dir/list3"
