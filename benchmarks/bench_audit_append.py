"""CPU per `rpc` audit append against a bare SQLite insert of the same row, in the same run.

Each round runs one child process per source tree (this one, and ``--baseline-src`` if given,
e.g. an export of main), the order alternating. A child opens a fresh state database in a
temporary folder, appends ``--appends`` ``rpc`` records through ``AuditChain.append``
(the group-commit path the interceptor takes, ``durable=False``) and, interleaved with that,
inserts the same record text into a bare SQLite table of the same shape (one
``BEGIN IMMEDIATE``/``INSERT``/``COMMIT`` per row, no chain, no index, WAL,
``synchronous=NORMAL``): the raw library cost. It reports the process CPU time per append
(best of three passes, which is what the code costs when the machine lets it run). Prints
the median, the spread across rounds and the load average.

    .venv/bin/python benchmarks/bench_audit_append.py [--rounds 5] [--appends 2000]
        [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sqlite3, sys, tempfile, time
from pathlib import Path
from zone.audit.chain import AuditChain
from zone.state.db import StateStore

APPENDS = int(sys.argv[1])
RECORD = {
    "request_id": "5f" * 16, "principal": "bank", "role": "researcher",
    "method": "/zone.v1.CatalogService/ListDatasets", "product": "", "decision": "allow",
    "reason": "ok", "status": "OK", "policy_digest": "ab" * 32, "peer": "ipv4:127.0.0.1:45678",
}
TEXT = json.dumps(RECORD, sort_keys=True, separators=(",", ":"))
INSERT = "INSERT INTO t (seq, ts, kind, record, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)"

def cpu_per(step):
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(APPENDS):
            step()
        best = min(best, (time.process_time() - start) / APPENDS * 1e6)
    return best

with tempfile.TemporaryDirectory() as tmp:
    store = StateStore.open(Path(tmp) / "zone.db", checkpoint_every=1.0)
    chain = AuditChain(store)
    raw = sqlite3.connect(str(Path(tmp) / "raw.db"), isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, ts TEXT, kind TEXT, record TEXT,"
                " prev_hash TEXT, hash TEXT) STRICT")
    seq = [0]

    def raw_insert():
        seq[0] += 1
        raw.execute("BEGIN IMMEDIATE")
        raw.execute(INSERT, (seq[0], "2026-12-06T17:00:00.000000+00:00", "rpc", TEXT,
                             "0" * 64, "1" * 64))
        raw.execute("COMMIT")

    for _ in range(200):
        chain.append("rpc", RECORD, durable=False)
        raw_insert()
    zone_us = cpu_per(lambda: chain.append("rpc", RECORD, durable=False))
    raw_us = cpu_per(raw_insert)
    raw.close()
    store.close()
print(json.dumps({"zone": zone_us, "raw": raw_us}))
"""


def run_child(source: Path, appends: int) -> dict[str, float]:
    """One child's CPU us per zone append and per raw insert, from the tree ``source``."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(appends)],
        cwd=source, env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--baseline-src", type=Path)
    args = parser.parse_args()
    trees = {"this tree": REPO}
    if args.baseline_src is not None:
        trees["baseline"] = args.baseline_src.resolve()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for i in range(args.rounds):
        names = list(trees) if i % 2 == 0 else list(trees)[::-1]
        for name in names:
            runs[name].append(run_child(trees[name], args.appends))
    print(f"{'':10} {'append us CPU':>22} {'raw insert us':>22} {'append / raw':>22}")
    for name, results in runs.items():
        zone = [r["zone"] for r in results]
        raw = [r["raw"] for r in results]
        ratio = [r["zone"] / r["raw"] for r in results]
        print(f"{name:10} {_spread(zone):>22} {_spread(raw):>22} {_spread(ratio):>22}")
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
