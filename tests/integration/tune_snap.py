#!/usr/bin/env python3
"""Snapshot of everything a `zepto tune plan --json` touches, on the real machine: each file's
bytes, each kernel thread's affinity, each moved process's cpuset and affinity. Processes that
exited in between are left out of the comparison: those whose pid is gone, those that have
exited but not been reaped yet (a zombie keeps the cpuset and affinity it died with: on a busy
machine one showed the housekeeping cpuset after restore), and pids taken again by another process
(pid_max is 32768 here): a process is its pid and its start time.

  tune_snap.py PLAN.json OUT      write the snapshot
  tune_snap.py --diff A B         compare two snapshots (exit 1 and the differences)
"""
import json
import sys


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().hex()
    except OSError as e:
        return f"<{e.strerror}>"


def status_field(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def start_time(pid):
    """Field 22 of /proc/PID/stat (after the command, which may hold spaces), or None when the
    process is gone or has exited (a zombie, state Z or X)."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if f[0] in ("Z", "X") else f[19]


def snap(plan, out):
    p = json.load(open(plan))
    snap = {}
    for c in p["changes"]:
        if c["kind"] == "file":
            snap[c["target"]] = read(c["target"])
        elif c["kind"] in ("affinity", "move"):
            pid = c["pid"]
            start = start_time(pid)
            aff = status_field(pid, "Cpus_allowed_list")
            if aff is None or start is None:
                continue
            snap[f"pid {pid}@{start} affinity"] = aff
            if c["kind"] == "move":
                snap[f"pid {pid}@{start} cpuset"] = read(f"/proc/{pid}/cpuset")
        elif c["kind"] == "cpuset":
            snap[c["target"] + " (exists)"] = str(__import__("os").path.isdir(c["target"]))
    json.dump(snap, open(out, "w"), indent=1, sort_keys=True)


def diff(a, b):
    x, y = json.load(open(a)), json.load(open(b))
    bad = [f"{k}: {x[k]} -> {y.get(k)}" for k in sorted(x)
           if k in y and x[k] != y[k]]
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "--diff":
        sys.exit(diff(sys.argv[2], sys.argv[3]))
    snap(sys.argv[1], sys.argv[2])
