# The test cluster (scripts/cluster.sh, issue 13 part 1): `up 2` gives two idle Slurm nodes,
# srun and salloc + mpirun span both, `down` leaves nothing behind; bad input gets one line.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
STATE=$CL_STATE
cluster_require mpirun

trap '"$CLUSTER" down >/dev/null 2>&1' EXIT

# bad input, before anything is up
expect_status 2 '^cluster: N must be 1\.\.[0-9]+, got 0$' "$CLUSTER" up 0
expect_status 2 "^cluster: N must be a number, got 'x'$" "$CLUSTER" up x
expect_status 2 '^cluster: N must be 1\.\.[0-9]+, got 99$' "$CLUSTER" up 99
expect_status 2 '^usage: cluster.sh' "$CLUSTER" up 2 --bogus
expect_status 2 '^usage: cluster.sh' "$CLUSTER" frobnicate
[ ! -d "$STATE" ] || fail "bad input left $STATE behind"
expect_ok "$CLUSTER" down
grep -q 'nothing is up' "$WORK/stdout" || fail "down with nothing up: '$(cat "$WORK/stdout")'"

# a failed up (a slurmd that cannot start) removes what it made and keeps the logs
mkdir -p "$WORK/fake"
printf '#!/bin/sh\necho "slurmd: refused" >&2\nexit 1\n' >"$WORK/fake/slurmd"
chmod +x "$WORK/fake/slurmd"
expect_status 1 '^cluster: slurmd of zn1 did not start: slurmd: refused$' \
  env PATH="$WORK/fake:$PATH" "$CLUSTER" up 2
[ ! -d "$STATE" ] && ! ip link show "$CL_BRIDGE" >/dev/null 2>&1 && [ -z "$(ip netns list | grep "^${CL_PREFIX}z")" ] ||
  fail "a failed up left something behind"
grep -q refused /tmp/zepto-cluster$CL_SFX-failed/zn1-start.log || fail "failed up kept no logs"
rm -rf /tmp/zepto-cluster$CL_SFX-failed

expect_ok "$CLUSTER" up 2 --io
echo $$ >"$CL_STATE/test-owner" # cluster_lib.sh: a later test cleans up if this one is killed
grep -qx "export SLURM_CONF=$STATE/slurm.conf" "$WORK/stdout" || fail "up did not print the env line"
[ "$("$CLUSTER" env)" = "export SLURM_CONF=$STATE/slurm.conf" ] || fail "env: $("$CLUSTER" env)"
export SLURM_CONF=$STATE/slurm.conf

# up while up: one line, exit 1, the running cluster untouched
expect_status 1 '^cluster: already up' "$CLUSTER" up 2

# both nodes idle (up waits for it; poll briefly in case)
idle=""
for _ in $(seq 100); do
  idle=$(sinfo -h -N -t idle -o %N | sort -u | tr '\n' ' ')
  [ "$idle" = "zn1 zn2 " ] && break
  sleep 0.1
done
[ "$idle" = "zn1 zn2 " ] || fail "sinfo idle nodes: '$idle'; $(sinfo -N 2>&1)"

got=$(timeout 30 srun -N2 hostname 2>&1 | sort | tr '\n' ' ')
[ "$got" = "zn1 zn2 " ] || fail "srun -N2 hostname: '$got'"

got=$(timeout 60 salloc -N2 mpirun -np 2 --map-by node hostname 2>/dev/null | sort | tr '\n' ' ')
[ "$got" = "zn1 zn2 " ] || fail "salloc -N2 mpirun -np 2: '$got'"

timeout 60 sbatch --wait -N2 -o "$WORK/batch.out" --wrap 'srun hostname' >/dev/null 2>&1 ||
  fail "sbatch --wait -N2 failed"
got=$(sort "$WORK/batch.out" 2>/dev/null | tr '\n' ' ')
[ "$got" = "zn1 zn2 " ] || fail "sbatch -N2 srun hostname: '$got'"

# the I/O node: its own hostname and address; its link can be shaped
got=$("$CLUSTER" run zio sh -c 'hostname; ip -o -4 addr show dev eth0' 2>&1 | awk '{print $1 $4}' | tr '\n' ' ')
[ "$got" = "zio 2:$CL_NET.100/24 " ] || fail "run zio: '$got'"
expect_ok "$CLUSTER" shape 100mbit
tc qdisc show dev "${CL_LINKP}zio" | grep -q 'tbf.*rate 100Mbit' || fail "shape: $(tc qdisc show dev "${CL_LINKP}zio")"
expect_status 2 "^cluster: RATE like" "$CLUSTER" shape fast
expect_status 1 "^cluster: no node 'zn7'$" "$CLUSTER" run zn7 true

# each node's slurmd in its own cpuset, CPUs round-robin
if [ -d $CL_CPUSET ]; then
  for n in 1 2; do
    cpus=$(cat $CL_CPUSET/zn$n/cpuset.cpus)
    [ "$cpus" = "$(((n - 1) % $(nproc)))" ] || fail "zn$n cpuset.cpus '$cpus'"
    [ -n "$(cat $CL_CPUSET/zn$n/tasks)" ] || fail "zn$n cpuset has no tasks"
  done
fi

pids=$(cat "$STATE"/munged.pid "$STATE"/slurmctld.pid "$STATE"/zn*/slurmd.pid 2>/dev/null)
[ "$(echo "$pids" | wc -w)" -eq 4 ] || fail "expected 4 daemon pids (munged, slurmctld, 2 slurmd): $pids"
expect_ok "$CLUSTER" down
for p in $pids; do ! grep -qv "^[0-9]* (.*) Z" "/proc/$p/stat" 2>/dev/null || fail "daemon $p still alive after down"; done
left=$(ip netns list | grep -E "^${CL_PREFIX}z" || true)
[ -z "$left" ] || fail "netns left: $left"
! ip link show "$CL_BRIDGE" >/dev/null 2>&1 || fail "bridge $CL_BRIDGE left"
[ -z "$(ip -o link show | grep -E ": ${CL_LINKP}z" || true)" ] || fail "veth links left"
[ ! -d "$STATE" ] || fail "$STATE left"
[ ! -d $CL_CPUSET ] || fail "cpuset left"
procs=$(pgrep -a -f "^(slurmctld|slurmd|slurmstepd|munged) .*$STATE/" || true)
[ -z "$procs" ] || fail "processes left: $procs"
expect_ok "$CLUSTER" down
grep -q 'nothing is up' "$WORK/stdout" || fail "second down: '$(cat "$WORK/stdout")'"

finish
