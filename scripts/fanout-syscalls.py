#!/usr/bin/env python3
"""The fan-out server's disk syscalls, recorded by scripts/fanout-syscalls.sh.

usage: scripts/fanout-syscalls.py DIR [summary|cycles|slowest [N]]

summary: each syscall's latency per file (database, WAL), the WAL's
restarts (its 32-byte header written at offset 0) and the header's fsync,
and the slow (> 4 ms) log_write / commit_sync steps with the writer
thread's syscalls inside them.
cycles: for each WAL cycle (restart to restart) how far the WAL grew and
how often the writer connection wrote the database file (an inline
checkpoint).
slowest: of the N (40) slowest fan-out samples, how many held an inline
checkpoint or a WAL restart.
docs/benchmarks.md, "Checkpoints and the log write's stalls (issue 12,
session 11, `ckpt`)".
"""
import bisect
import collections
import datetime
import re
import subprocess
import sys

EVENT = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):\s*(.*)$")
STEP = re.compile(r'^(\S+) DEBUG evo_fanout: subject="([^"]+)" step="([^"]+)" us=(\d+)')


def load(folder):
    offset = float(open(f"{folder}/clock.txt").read())
    names = {}
    for line in open(f"{folder}/fds.txt"):
        m = re.search(r" (\d+) -> (.*)$", line)
        if m:
            names[int(m[1])] = m[2]

    def kind(fd):
        path = names.get(fd, "?")
        for suffix, name in (("-wal", "wal"), ("-shm", "shm"), (".db", "db")):
            if path.endswith(suffix):
                return name
        return path.rsplit("/", 1)[-1]

    out = subprocess.run(["perf", "script", "-i", f"{folder}/perf.data", "-F", "tid,time,event,trace"],
                         capture_output=True, text=True).stdout
    entered, calls = {}, []  # (start, end, tid, name, kind, count, pos)
    for line in out.splitlines():
        m = EVENT.match(line)
        if not m:
            continue
        tid, at, side, name = int(m[1]), float(m[2]) + offset, m[3], m[4]
        if side == "enter":
            f = {k: int(v, 16) for k, v in re.findall(r"(\w+): (0x[0-9a-f]+)", m[5])}
            entered[tid] = (at, name, kind(f.get("fd", 0)), f.get("count", 0), f.get("pos", 0))
        else:
            s = entered.pop(tid, None)
            if s and s[1] == name:
                calls.append((s[0], at, tid, name, s[2], s[3], s[4]))
    calls.sort()
    steps = collections.defaultdict(list)
    for line in open(f"{folder}/server.log"):
        m = STEP.match(line)
        if m:
            at = datetime.datetime.strptime(m[1][:26], "%Y-%m-%dT%H:%M:%S.%f")
            end = at.replace(tzinfo=datetime.timezone.utc).timestamp()
            if calls and calls[0][0] <= end <= calls[-1][1]:
                steps[m[3]].append((end - int(m[4]) / 1e6, end))
    writer = collections.Counter(c[2] for c in calls if c[3] == "fsync" and c[4] == "wal").most_common(1)[0][0]
    headers = [c for c in calls if c[3] == "pwrite64" and c[4] == "wal" and c[5] == 32 and c[6] == 0]
    return calls, steps, writer, headers


def summary(calls, steps, writer, headers):
    latency = collections.defaultdict(list)
    for c in calls:
        latency[(c[3], c[4])].append((c[1] - c[0]) * 1e3)
    for key, v in sorted(latency.items()):
        v.sort()
        print("%-18s n=%6d p50=%.3f p99=%.3f max=%.2f >4ms=%d" % (
            "%s %s" % key, len(v), v[len(v) // 2], v[int(len(v) * .99)], v[-1], sum(x > 4 for x in v)))
    syncs = []
    for h in headers:
        after = next((d for d in calls if d[0] > h[1] and d[2] == h[2]), None)
        if after and after[3] == "fsync":
            syncs.append((after[1] - after[0]) * 1e3)
    syncs.sort()
    span = calls[-1][1] - calls[0][0]
    if syncs:
        print("WAL restarts: %d in %.1f s; header fsync p50 %.2f max %.2f ms" % (
            len(headers), span, syncs[len(syncs) // 2], syncs[-1]))
    for step in ("log_write", "commit_sync"):
        slow = [(a, b) for a, b in steps.get(step, []) if b - a > 0.004]
        print("\n%s: %d, over 4 ms: %d" % (step, len(steps.get(step, [])), len(slow)))
        for a, b in slow:
            inside = [c for c in calls if c[2] == writer and c[0] >= a - 1e-4 and c[1] <= b + 1e-4]
            total = lambda name, k=None: sum(c[1] - c[0] for c in inside if c[3] == name and (k is None or c[4] == k)) * 1e3
            print("  %.2f ms: fsync %.2f (%d), pwrite wal %.2f (%d), pwrite db %d (inline checkpoint: %s)" % (
                (b - a) * 1e3, total("fsync"), sum(c[3] == "fsync" for c in inside), total("pwrite64", "wal"),
                sum(c[3] == "pwrite64" and c[4] == "wal" for c in inside),
                sum(c[3] == "pwrite64" and c[4] == "db" for c in inside),
                "yes" if any(c[3] == "pwrite64" and c[4] == "db" for c in inside) else "no"))


def cycles(calls, steps, writer, headers):
    rows, grown, inline, in_db = [], 0, 0, False
    for c in calls:
        if c[2] != writer or c[3] != "pwrite64":
            continue
        if c[4] == "wal":
            if c[5] == 32 and c[6] == 0:
                rows.append((grown, inline))
                grown, inline = 0, 0
            grown = max(grown, c[6] + c[5])
            in_db = False
        elif c[4] == "db":
            inline += not in_db
            in_db = True
    rows.append((grown, inline))
    for grown, inline in rows:
        print("WAL grew to %.1f MB (%d frames), inline checkpoints %d" % (grown / 1e6, grown / 4120, inline))
    print("cycles %d, largest %d frames, inline checkpoints %d" % (
        len(rows), max(r[0] for r in rows) / 4120, sum(r[1] for r in rows)))


def slowest(calls, steps, writer, headers, folder, count):
    inline = [c[0] for c in calls if c[2] == writer and c[3] == "pwrite64" and c[4] == "db"]
    restarts = [c[0] for c in headers]

    def within(times, a, b):
        i = bisect.bisect_left(times, a)
        return i < len(times) and times[i] <= b
    rows = []
    for line in open(f"{folder}/samples.tsv"):
        n, sid, sent, ack, seen = line.split()
        a = int(sent) / 1e6
        b = a + int(seen) / 1e6
        rows.append((int(seen) / 1e3, within(inline, a, b), within(restarts, a, b)))
    rows.sort(reverse=True)
    print("slowest %d: with an inline checkpoint %d, with a WAL restart %d; all %d: inline %d, restart %d" % (
        count, sum(r[1] for r in rows[:count]), sum(r[2] for r in rows[:count]), len(rows),
        sum(r[1] for r in rows), sum(r[2] for r in rows)))


def main():
    folder = sys.argv[1]
    what = sys.argv[2] if len(sys.argv) > 2 else "summary"
    loaded = load(folder)
    if what == "cycles":
        cycles(*loaded)
    elif what == "slowest":
        slowest(*loaded, folder, int(sys.argv[3]) if len(sys.argv) > 3 else 40)
    else:
        summary(*loaded)


if __name__ == "__main__":
    main()
