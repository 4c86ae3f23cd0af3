#!/usr/bin/env python3
"""A fake /proc and /sys for the zepto tune tests (ZEPTO_SYSROOT), and snapshots of trees.

  tune_tree.py make DIR [PID]     build a 4-CPU node: IRQs, workqueues, kernel threads, daemons;
                                 PID (the shell that runs zepto, an ancestor of it) is added as a
                                 process in init's session; prints the pids a plan must leave
  tune_tree.py make-v2 DIR [PID] the same with cgroup v2 (systemd slices) instead of v1 cpusets
  tune_tree.py snap DIR FILE   a listing of every file under DIR with the sha256 of its bytes
  tune_tree.py state FILE      rewrite a state file's checksum after a test edited it
"""
import hashlib
import os
import sys
import zlib


def put(root, rel, text):
    path = os.path.join(root, rel.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def proc(root, pid, comm, flags, affinity, cpuset="/", sid=None):
    sid = sid if sid is not None else pid
    # pid (comm) state ppid pgrp session tty tpgid flags ... field 22 = starttime
    fields = ["S", "1", str(pid), str(sid), "0", "-1", str(flags)] + ["0"] * 12 + [str(1000 + pid)]
    put(root, f"/proc/{pid}/stat", f"{pid} ({comm}) " + " ".join(fields) + " 0 0\n")
    put(root, f"/proc/{pid}/status", f"Name:\t{comm}\nCpus_allowed_list:\t{affinity}\nVmRSS:\t0 kB\n")
    put(root, f"/proc/{pid}/cpuset", cpuset + "\n")
    put(root, f"/proc/{pid}/comm", comm + "\n")


FIXED_PIDS = (1, 2, 100, 101, 102, 200, 201, 202, 203, 204)


def make(root, caller=None):
    put(root, "/sys/devices/system/cpu/online", "0-3\n")
    for c in range(4):
        put(root, f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list", f"{c}\n")
    for c in (2, 3):
        put(root, f"/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_available_governors",
            "performance powersave\n")
        put(root, f"/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor", "powersave\n")
        put(root, f"/sys/devices/system/cpu/cpu{c}/cpuidle/state0/latency", "0\n")
        put(root, f"/sys/devices/system/cpu/cpu{c}/cpuidle/state0/disable", "0\n")
        put(root, f"/sys/devices/system/cpu/cpu{c}/cpuidle/state2/latency", "120\n")
        put(root, f"/sys/devices/system/cpu/cpu{c}/cpuidle/state2/name", "C6\n")
        put(root, f"/sys/devices/system/cpu/cpu{c}/cpuidle/state2/disable", "0\n")
    put(root, "/proc/irq/default_smp_affinity", "f\n")
    put(root, "/proc/irq/24/smp_affinity_list", "0-3\n")
    os.makedirs(os.path.join(root, "proc/irq/24/eth0"), exist_ok=True)
    put(root, "/proc/irq/25/smp_affinity_list", "0\n")  # already on housekeeping: untouched
    put(root, "/proc/irq/26/smp_affinity_list", "3\n")
    put(root, "/sys/devices/virtual/workqueue/cpumask", "f\n")
    put(root, "/sys/devices/virtual/workqueue/writeback/cpumask", "f\n")
    put(root, "/proc/sys/vm/stat_interval", "1\n")
    put(root, "/proc/sys/kernel/watchdog_cpumask", "0-3\n")
    put(root, "/proc/sys/kernel/sched_rt_runtime_us", "950000\n")
    put(root, "/proc/sys/kernel/timer_migration", "1\n")
    put(root, "/proc/sys/kernel/numa_balancing", "1\n")
    put(root, "/proc/sys/kernel/hostname", "fakenode\n")
    put(root, "/proc/sys/kernel/random/boot_id", "11111111-2222-3333-4444-555555555555\n")
    put(root, "/proc/cmdline", "console=ttyS0 nohz_full=2-3 quiet\n")
    put(root, "/sys/kernel/mm/transparent_hugepage/khugepaged/defrag", "1\n")
    put(root, "/sys/module/page_reporting/parameters/page_reporting_order", "9\n")
    put(root, "/proc/buddyinfo", "Node 0, zone      DMA      1      1      0      0      2      1"
        "      1      0      1      1      3 \nNode 0, zone   Normal   2 3 4 5 6 7 8 9 1 2 3 \n")
    put(root, "/sys/kernel/mm/transparent_hugepage/defrag",
        "[always] defer defer+madvise madvise never\n")
    put(root, "/sys/fs/cgroup/cpuset/cpuset.cpus", "0-3\n")
    put(root, "/sys/fs/cgroup/cpuset/cpuset.mems", "0\n")
    put(root, "/sys/fs/cgroup/cpuset/cgroup.procs", "")
    proc(root, 1, "init", 0x400100, "0-3")
    proc(root, 2, "kthreadd", 0x00208040, "0-3")
    proc(root, 100, "kswapd0", 0x00a20840, "0-3")                 # unbound kthread: moved
    proc(root, 101, "ksoftirqd/2", 0x04208040, "2")               # per-CPU: left
    proc(root, 102, "kworker/u8:1", 0x04208060, "0-3")            # NO_SETAFFINITY: left
    proc(root, 200, "sshd", 0x400100, "0-3")                      # daemon: confined
    proc(root, 201, "slurmstepd", 0x400100, "0-3", cpuset="/slurm/uid_0/job_7")  # a job: left
    proc(root, 202, "app", 0x400000, "2-3")                       # pinned app: left
    proc(root, 203, "crond", 0x400100, "1-3")                     # daemon, affinity kept
    left = [101, 102, 201, 202]
    sid = os.getsid(0)
    # the caller's session: left, unless it is init's (a container, a CI job without setsid)
    proc(root, 204, "bash", 0x400100, "0-3", sid=sid)
    if sid > 1:
        left.append(204)
    if caller is not None:
        if caller in FIXED_PIDS:
            sys.exit(f"the caller's pid {caller} is one of the fake tree's own pids")
        proc(root, caller, "sh", 0x400100, "0-3", sid=1)  # an ancestor in init's session: left
        left.append(caller)
    return left


def make_v2(root, caller=None):
    """The same node with cgroup v2 only (systemd's slices, no cpuset hierarchy)."""
    left = make(root, caller)
    import shutil
    shutil.rmtree(os.path.join(root, "sys/fs/cgroup/cpuset"))
    put(root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
    put(root, "/sys/fs/cgroup/cgroup.subtree_control", "cpu memory pids\n")
    put(root, "/sys/fs/cgroup/system.slice/cpuset.cpus", "\n")
    put(root, "/sys/fs/cgroup/init.scope/cpuset.cpus", "\n")
    put(root, "/proc/200/cpuset", "/system.slice/ssh.service\n")  # a service: its slice is set
    return left


def snap(root, out):
    lines = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(d, name)
            if not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                lines.append(f"{os.path.relpath(p, root)} {hashlib.sha256(f.read()).hexdigest()}")
        for name in dirs:
            lines.append(os.path.relpath(os.path.join(d, name), root) + "/")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def state(path):
    with open(path, "rb") as f:
        data = f.read()
    body = data[: data.rstrip(b"\n").rfind(b"\n") + 1]
    with open(path, "wb") as f:
        f.write(body + b"sum %08x\n" % (zlib.crc32(body) & 0xFFFFFFFF))


if __name__ == "__main__":
    caller = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[1].startswith("make") else None
    out = {"make": lambda: make(sys.argv[2], caller), "make-v2": lambda: make_v2(sys.argv[2], caller),
           "snap": lambda: snap(sys.argv[2], sys.argv[3]), "state": lambda: state(sys.argv[2])}[sys.argv[1]]()
    if sys.argv[1].startswith("make"):
        print(" ".join(map(str, out)))
