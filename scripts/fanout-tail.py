#!/usr/bin/env python3
"""Which step made each slow fan-out sample slow.

Reads what `EVO_BENCH_FANOUT_TRACE=<dir> evo-voice bench --fanout-steps`
keeps in <dir>: samples.tsv (index, call SID, sent at in µs since the
epoch, acknowledged and seen after, µs) and server.log (the server's
`evo_fanout` step timings, each line stamped when the step ended; the
WAL checkpoints as subject "wal"). For the slowest N samples it prints
the voice webhook's path as consecutive spans (ms): before the server
took the request, signature, the steps before the commit, the commit
(its writers' turn, statements, COMMIT), the index and hub, the Server
Events log write, the frame written on the stream, and the bench seeing
it; and how much of each sample overlapped a WAL checkpoint.
docs/benchmarks.md, "Fan-out tail (issue 12, session 10, `fantail`)".

usage: scripts/fanout-tail.py <dir> [N=40]
"""

import collections
import datetime
import re
import statistics
import sys

LINE = re.compile(
    r'^(\S+) DEBUG evo_fanout: subject="([^"]+)" step="([^"]+)" us=(\d+)'
)
SPANS = ["pre", "sig", "sig>commit", "commit", "turn", "write", "sync",
         "commit>log", "log", "log>written", "written>seen", "checkpoint"]


def stamp(text):
    at = datetime.datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f")
    return int(at.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e6)


def main(folder, count):
    samples = [tuple(line.split()) for line in open(f"{folder}/samples.tsv")]
    steps = collections.defaultdict(list)
    checkpoints = []
    for line in open(f"{folder}/server.log"):
        m = LINE.match(line)
        if not m:
            continue
        end, subject, step, us = stamp(m[1]), m[2], m[3], int(m[4])
        if subject == "wal":
            checkpoints.append((end - us, end))
        else:
            steps[subject.split("-")[-1]].append((end, step, us))
    rows = []
    for n, sid, sent, ack, seen in samples:
        sent, seen = int(sent), int(seen)
        end = sent + seen
        first = {}
        for at, step, us in sorted(steps[sid]):
            if sent - 200 <= at <= end + 200:
                first.setdefault(step, (at, us))
        row = {"n": n, "seen": seen / 1e3, "ack": int(ack) / 1e3}
        try:
            sig_end, sig = first["signature"]
            commit_end, commit = first["commit"]
            log_end, log = first["log"]
            written_end, _ = first["written"]
            row.update({
                "pre": (sig_end - sig - sent) / 1e3,
                "sig": sig / 1e3,
                "sig>commit": (commit_end - commit - sig_end) / 1e3,
                "commit": commit / 1e3,
                "turn": first["commit_turn"][1] / 1e3,
                "write": first["commit_write"][1] / 1e3,
                "sync": first["commit_sync"][1] / 1e3,
                "commit>log": (log_end - log - commit_end) / 1e3,
                "log": log / 1e3,
                "log>written": (written_end - log_end) / 1e3,
                "written>seen": (end - written_end) / 1e3,
                "checkpoint": sum(min(end, b) - max(sent, a)
                                  for a, b in checkpoints
                                  if b > sent and a < end) / 1e3,
            })
        except KeyError:
            pass
        rows.append(row)
    rows.sort(key=lambda row: -row["seen"])
    print("\t".join(["n", "seen", "ack"] + SPANS))
    for row in rows[:count]:
        print("\t".join([row["n"]] + ["%.2f" % row.get(k, -1)
                                      for k in ["seen", "ack"] + SPANS]))
    for name, part in (("slowest", rows[:count]), ("all", rows)):
        medians = ["%s=%.2f" % (k, statistics.median(r[k] for r in part if k in r))
                   for k in ["seen"] + SPANS]
        print("median of", name, " ".join(medians))
    durations = sorted(b - a for a, b in checkpoints)
    if durations:
        print("checkpoints %d, p50 %.2f, max %.2f ms; samples overlapping one: "
              "%d of the slowest %d, %d of all %d" % (
                  len(durations), durations[len(durations) // 2] / 1e3,
                  durations[-1] / 1e3,
                  sum(1 for r in rows[:count] if r.get("checkpoint", 0) > 0), count,
                  sum(1 for r in rows if r.get("checkpoint", 0) > 0), len(rows)))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40)
