#!/usr/bin/env python3
"""Pages per transaction of the SQLite store, by table and index.

Two steps (docs/benchmarks.md, "Pages per transaction (issue 12, session
11, `pages`)"):

  wal-pages.py capture TRACE_DIR OUT_DIR [HOLD_SECS]
      Run beside `evo-voice bench` with EVO_BENCH_FANOUT_TRACE=TRACE_DIR.
      When the fan-out phase starts (TRACE_DIR/samples.tsv appears), opens a
      read transaction on the `serve` process's database, so that the WAL
      can be neither checkpointed past it nor restarted: every frame written
      from then on stays in the WAL. After HOLD_SECS (default 6) copies the
      database and its WAL into OUT_DIR, then lets go.

  wal-pages.py analyse OUT_DIR [--json FILE]
      Splits the copied WAL into transactions (frames up to one whose
      "database size" field is non-zero), maps each page number to the
      table or index that holds it (SQLite's `dbstat` on the copy, i.e. at
      the end of the capture: a page freed and reused for another tree in
      between is counted under its last owner), classifies each transaction
      (voice commit: a new session, so a `session_search` row; end-of-call
      commit: `session` written without one; log write: `event_message`)
      and prints the pages per transaction by tree: mean, p50, p90, max.

Also: wal-pages.py io TRACE_DIR OUT_FILE samples the `serve` process's
/proc/<pid>/io write_bytes every 0.1 s from the fan-out phase's start until
the process exits (for write bytes per sample, joined with samples.tsv by
`wal-pages.py per-sample`).
"""

import glob
import json
import os
import shutil
import sqlite3
import statistics
import struct
import sys
import time
from collections import Counter, defaultdict


def serve_pid():
    """The `evo-voice serve` process of the running bench (its data dir)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and b"--data-dir" in args:
            data_dir = args[args.index(b"--data-dir") + 1].decode()
            if "evo-voice-bench-" in data_dir and data_dir.endswith("/data"):
                return int(pid), data_dir
    return None, None


def wait_phase(trace_dir):
    samples = os.path.join(trace_dir, "samples.tsv")
    while not os.path.exists(samples):
        time.sleep(0.05)
    while True:
        pid, data_dir = serve_pid()
        if pid:
            return pid, data_dir
        time.sleep(0.05)


def capture(trace_dir, out_dir, hold):
    pid, data_dir = wait_phase(trace_dir)
    db = os.path.join(data_dir, "evo-voice.db")
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("begin")
    conn.execute("select count(*) from sqlite_schema").fetchone()
    # The last frame the read transaction sees (the wal-index header's
    # mxFrame, native byte order): every frame after it is still in the WAL.
    with open(db + "-shm", "rb") as f:
        mark = struct.unpack("=I", f.read(20)[16:20])[0]
    started = time.time()
    time.sleep(hold)
    os.makedirs(out_dir, exist_ok=True)
    # The WAL first: it only grows while the read transaction is open.
    shutil.copyfile(db + "-wal", os.path.join(out_dir, "evo-voice.db-wal"))
    shutil.copyfile(db, os.path.join(out_dir, "evo-voice.db"))
    conn.execute("rollback")
    conn.close()
    with open(os.path.join(out_dir, "capture.json"), "w") as f:
        json.dump({"pid": pid, "data_dir": data_dir, "started": started, "mark_frame": mark,
                   "hold_secs": hold}, f)
    print(f"captured {out_dir} (held {hold} s)", file=sys.stderr)


def io_sampler(trace_dir, out_file):
    pid, _ = wait_phase(trace_dir)
    with open(out_file, "w") as out:
        while True:
            try:
                with open(f"/proc/{pid}/io") as f:
                    fields = dict(line.split(": ") for line in f.read().splitlines())
            except OSError:
                break
            out.write(f"{time.time():.3f}\t{fields['write_bytes'].strip()}\n")
            out.flush()
            time.sleep(0.1)


def per_sample(trace_dir, io_file):
    """Write bytes per sample between the first and the last sample sent."""
    sent = []
    with open(os.path.join(trace_dir, "samples.tsv")) as f:
        for line in f:
            parts = line.split("\t")
            sent.append(int(parts[2]) / 1e6)
    io = []
    with open(io_file) as f:
        for line in f:
            t, b = line.split("\t")
            io.append((float(t), int(b)))
    first, last = min(sent), max(sent)
    inside = [(t, b) for t, b in io if first <= t <= last]
    if len(inside) < 2:
        return None
    (t0, b0), (t1, b1) = inside[0], inside[-1]
    n = sum(1 for s in sent if t0 <= s < t1)
    return {"samples": n, "secs": t1 - t0, "write_bytes": b1 - b0,
            "bytes_per_sample": (b1 - b0) / max(n, 1),
            "mb_per_sec": (b1 - b0) / (t1 - t0) / 1e6}


# Write-time owners: each page is attributed to the tree that references it
# in the state the transaction left (parents and overflow chains followed
# from the WAL's own page images), not to its owner at the end of the
# capture: pages freed (FTS5 merges, pruning) are reused by other trees
# within seconds.

def varint(b, i):
    v = 0
    for k in range(8):
        c = b[i + k]
        v = (v << 7) | (c & 0x7F)
        if c < 0x80:
            return v, i + k + 1
    return (v << 8) | b[i + 8], i + 9

class Db:
    def __init__(self, db_path, wal_path):
        self.f = open(db_path, 'rb')
        hdr = self.f.read(100)
        self.ps = struct.unpack('>H', hdr[16:18])[0]
        if self.ps == 1:
            self.ps = 65536
        self.usable = self.ps - hdr[20]
        self.wal = open(wal_path, 'rb').read()
        self.pages = {}          # page -> bytes (state so far)
        self.parent = {}         # child -> parent
        self.refs = {}           # page -> set of pages it references
        self.roots = {}
        conn = sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True)
        for name, root in conn.execute("select name, rootpage from sqlite_schema where rootpage > 0"):
            self.roots[root] = name
        conn.close()
        self.roots[1] = 'sqlite_schema'

    def page(self, p):
        if p in self.pages:
            return self.pages[p]
        self.f.seek((p - 1) * self.ps)
        return self.f.read(self.ps)

    def frames(self):
        """(frame index, page, offset of its data, commit?) in WAL order."""
        d = self.wal
        salt = d[16:24]
        off, n = 32, 0
        while off + 24 + self.ps <= len(d):
            if d[off + 8:off + 16] != salt:
                break
            pgno, size = struct.unpack('>II', d[off:off + 8])
            yield n, pgno, off + 24, size != 0
            off += 24 + self.ps
            n += 1

    def references(self, p, b):
        """Pages that page `p` (content b) points to: children and overflow."""
        h = 100 if p == 1 else 0
        t = b[h]
        out = set()
        if t not in (2, 5, 10, 13):
            # An overflow page (or freelist): its first 4 bytes chain on.
            return out, t
        ncells = struct.unpack('>H', b[h + 3:h + 5])[0]
        interior = t in (2, 5)
        hs = 12 if interior else 8
        if interior:
            out.add(struct.unpack('>I', b[h + 8:h + 12])[0])
        U = self.usable
        for k in range(ncells):
            c = struct.unpack('>H', b[h + hs + 2 * k:h + hs + 2 * k + 2])[0]
            if c + 4 > len(b):
                continue
            i = c
            if interior:
                out.add(struct.unpack('>I', b[i:i + 4])[0])
                i += 4
                if t == 5:
                    continue
            P, i = varint(b, i)
            if t == 13:
                _, i = varint(b, i)
                X = U - 35
            else:
                X = ((U - 12) * 64 // 255) - 23
            if P <= X:
                continue
            M = ((U - 12) * 32 // 255) - 23
            K = M + ((P - M) % (U - 4))
            local = K if K <= X else M
            ov = struct.unpack('>I', b[i + local:i + local + 4])[0]
            out.add(('ov', ov))
        return out, t

    def set_refs(self, p, b):
        refs, t = self.references(p, b)
        self.refs[p] = refs
        for r in refs:
            if isinstance(r, tuple):
                self.parent[r[1]] = p
            else:
                self.parent[r] = p
        return t

    def drop_refs(self, p):
        for r in self.refs.pop(p, ()):
            q = r[1] if isinstance(r, tuple) else r
            if self.parent.get(q) == p:
                del self.parent[q]

    def overflow_chain(self, p, b):
        # The next page of an overflow chain: first 4 bytes.
        nxt = struct.unpack('>I', b[:4])[0]
        if nxt:
            self.parent[nxt] = p
            self.refs.setdefault(p, set()).add(('ov', nxt))

    def owner(self, p, depth=0):
        while depth < 64:
            if p in self.roots:
                return self.roots[p]
            q = self.parent.get(p)
            if q is None:
                return '(freelist)'
            p = q
            depth += 1
        return '(loop)'

    def walk_all(self):
        seen = set()
        stack = list(self.roots)
        while stack:
            p = stack.pop()
            if p in seen or p == 0:
                continue
            seen.add(p)
            b = self.page(p)
            h = 100 if p == 1 else 0
            if b[h] in (2, 5, 10, 13) and (p in self.roots or not self.is_overflow(p)):
                self.set_refs(p, b)
                for r in self.refs.get(p, ()):
                    if isinstance(r, tuple):
                        self.walk_overflow(r[1], seen)
                    else:
                        stack.append(r)

    def is_overflow(self, p):
        return False

    def walk_overflow(self, p, seen):
        while p and p not in seen:
            seen.add(p)
            b = self.page(p)
            self.refs[p] = set()
            nxt = struct.unpack('>I', b[:4])[0]
            if nxt:
                self.parent[nxt] = p
                self.refs[p].add(('ov', nxt))
            p = nxt

def transactions(wal_db, start_tx):
    """Yields, for each transaction from `start_tx` on, a dict page -> owner."""
    db = wal_db
    txs, cur = [], []
    for n, pgno, off, commit in db.frames():
        cur.append((pgno, off))
        if commit:
            txs.append(cur)
            cur = []
    # State at start_tx: every earlier frame applied.
    for tx in txs[:start_tx]:
        for pgno, off in tx:
            db.pages[pgno] = db.wal[off:off + db.ps]
    db.walk_all()
    overflow_pages = {p for p, q in db.parent.items() if ('ov', p) in db.refs.get(q, ())}
    for tx in txs[start_tx:]:
        latest = {}
        for pgno, off in tx:
            latest[pgno] = off
        for pgno in latest:
            db.drop_refs(pgno)
        kinds = {}
        for pgno, off in latest.items():
            b = db.wal[off:off + db.ps]
            db.pages[pgno] = b
        for pgno in latest:
            b = db.pages[pgno]
            h = 100 if pgno == 1 else 0
            if b[h] in (2, 5, 10, 13):
                db.set_refs(pgno, b)
        # overflow chains: pages referenced as ('ov', x) follow their chain
        for pgno in latest:
            q = db.parent.get(pgno)
            if q is not None and ('ov', pgno) in db.refs.get(q, ()):
                db.overflow_chain(pgno, db.pages[pgno])
                kinds[pgno] = 'overflow'
        yield len(tx), {p: (db.owner(p), kinds.get(p, '')) for p in latest}


def quantile(values, q):
    if not values:
        return 0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def analyse(out_dir, json_file=None, last=None):
    work = os.path.join(out_dir, "copy")
    os.makedirs(work, exist_ok=True)
    for name in ("evo-voice.db", "evo-voice.db-wal"):
        shutil.copyfile(os.path.join(out_dir, name), os.path.join(work, name))
    db = Db(os.path.join(work, "evo-voice.db"), os.path.join(work, "evo-voice.db-wal"))
    conn = sqlite3.connect(f"file:{os.path.join(work, 'evo-voice.db')}?mode=ro&immutable=1", uri=True)
    tables = dict(conn.execute("select name, tbl_name from sqlite_schema"))
    conn.close()
    # Transactions after the capture's read mark (exact owners); or the last N.
    commits = [n for n, _, _, commit in db.frames() if commit]
    with open(os.path.join(out_dir, "capture.json")) as f:
        mark = json.load(f).get("mark_frame")
    if last is not None:
        start = max(0, len(commits) - last)
    elif mark is not None:
        start = sum(1 for n in commits if n < mark)
    else:
        start = 0
    kinds = defaultdict(list)
    for nframes, own in transactions(db, start):
        names = Counter()
        overflow = Counter()
        for p, (name, kind) in own.items():
            names[name] += 1
            if kind == "overflow":
                overflow[name] += 1
        touched = {tables.get(n, n) for n in names}
        if "event_message" in touched:
            kind = "log"
        elif "session" in touched:
            # A new session: its search row, written (before migration
            # 0025) or queued.
            new = "session_search_content" in names or "session_search_pending" in names
            kind = "voice" if new else "end"
        elif "session_log_search_content" in names or "session_search_content" in names:
            kind = "index"  # SearchIndexer's batch (migration 0025)
        else:
            kind = "other"
        kinds[kind].append({"frames": nframes, "pages": len(own),
                            "by": names, "overflow": overflow})
    page_size = db.ps
    txs = [0] * sum(len(v) for v in kinds.values())
    report = {"page_size": page_size, "transactions": len(txs), "kinds": {}}
    for kind in ("voice", "end", "log", "index", "other"):
        rows = kinds.get(kind, [])
        if not rows:
            continue
        pages = [r["pages"] for r in rows]
        trees = Counter()
        for r in rows:
            trees.update(r["by"].keys())
        by = {}
        for tree in trees:
            counts = [r["by"].get(tree, 0) for r in rows]
            ov = [r["overflow"].get(tree, 0) for r in rows]
            by[tree] = {"table": tables.get(tree, tree), "mean": statistics.mean(counts),
                        "p50": quantile(counts, 0.5), "p90": quantile(counts, 0.9),
                        "p99": quantile(counts, 0.99), "max": max(counts),
                        "overflow_mean": statistics.mean(ov)}
        report["kinds"][kind] = {
            "count": len(rows),
            "pages_mean": statistics.mean(pages), "pages_p50": quantile(pages, 0.5),
            "pages_p90": quantile(pages, 0.9), "pages_p99": quantile(pages, 0.99),
            "pages_max": max(pages),
            "frames_mean": statistics.mean(r["frames"] for r in rows),
            "by": dict(sorted(by.items(), key=lambda kv: -kv[1]["mean"])),
        }
    for kind, k in report["kinds"].items():
        print(f"\n{kind}: {k['count']} transactions, pages mean {k['pages_mean']:.1f} "
              f"p50 {k['pages_p50']} p90 {k['pages_p90']} p99 {k['pages_p99']} max {k['pages_max']} "
              f"(frames mean {k['frames_mean']:.1f})")
        print(f"  {'tree':44} {'table':26} {'mean':>6} {'p50':>4} {'p90':>4} {'p99':>4} {'max':>4} {'ovfl':>5}")
        for tree, b in k["by"].items():
            if b["mean"] < 0.01:
                continue
            print(f"  {tree:44} {b['table']:26} {b['mean']:6.2f} {b['p50']:4} {b['p90']:4} "
                  f"{b['p99']:4} {b['max']:4} {b['overflow_mean']:5.2f}")
    if json_file:
        with open(json_file, "w") as f:
            json.dump(report, f, indent=1)
    return report


def main():
    command = sys.argv[1]
    if command == "capture":
        hold = float(sys.argv[4]) if len(sys.argv) > 4 else 6.0
        capture(sys.argv[2], sys.argv[3], hold)
    elif command == "analyse":
        args = sys.argv[3:]
        json_file = args[args.index("--json") + 1] if "--json" in args else None
        last = int(args[args.index("--last") + 1]) if "--last" in args else None
        analyse(sys.argv[2], json_file, last)
    elif command == "io":
        io_sampler(sys.argv[2], sys.argv[3])
    elif command == "per-sample":
        print(json.dumps(per_sample(sys.argv[2], sys.argv[3])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
