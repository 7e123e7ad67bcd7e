"""The supervision console under a long history: overview render time, memory, per-call hooks.

Builds a demo zone, then appends (in bulk, with correct hashes) ``--records`` ``rpc`` audit
records spread evenly over the last ``--days`` days and ``--releases`` statistics releases with
their charges, and starts the console on loopback. Reports, each as the median of
``--repeats`` requests over HTTP and of the server-side handler alone:
* the overview page, the audit search, the operators page and an alert evaluation,
* the operators page counted from scratch, kept (no new records) and kept with 10,000 new
  records appended since the last look (``zone.admin.evaluation.Evaluations``),
* the console's resident memory (the zone process's RSS before and after the console served),
* the per-call cost of the interceptor's two hooks (suspension check, call metrics) beside the
  per-call cost of a plain audit append, both measured in this run.

    .venv/bin/python benchmarks/bench_console.py [--records 1000000] [--releases 10000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from consolekit import CONSOLE_CONFIG  # noqa: E402
from zonekit import TOKENS, make_zone_dir  # noqa: E402

from zone.audit import AuditChain  # noqa: E402
from zone.config import load_config  # noqa: E402
from zone.console.server import start_console  # noqa: E402
from zone.server.wiring import build, console_deps  # noqa: E402
from zone.wire.entries import GENESIS_HASH, entry_hash  # noqa: E402
from zone.wire.jsontext import canonical_json  # noqa: E402

PRODUCTS = ("enterprise-stats", "enterprise-default-lr", "capital-match", "")
METHODS = ("/zone.v1.StatisticsService/Query", "/zone.v1.CatalogService/ListDatasets")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fill(store, records: int, releases: int, days: int) -> None:
    """Bulk-append rpc records and releases (hash chain intact), oldest first."""
    start = datetime.now(UTC) - timedelta(days=days)
    step = timedelta(days=days) / max(1, records) if days else timedelta(microseconds=1)
    with store.write() as w:
        seq = w.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0]
        head = w.execute("SELECT hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        prev = head[0] if head else GENESIS_HASH
        rows, release_rows, charge_rows = [], [], []
        every = max(1, records // max(1, releases))
        for i in range(records):
            seq += 1
            ts = (start + step * i).isoformat(timespec="microseconds")
            who = ("bank-a", "city-research", "")[i % 3]
            record = canonical_json({
                "request_id": uuid.uuid4().hex, "principal": who, "role": "operator",
                "method": METHODS[i % 2], "product": PRODUCTS[i % 4],
                "decision": "deny" if i % 50 == 0 else "allow", "reason": "ok",
                "status": "PERMISSION_DENIED" if i % 50 == 0 else "OK",
                "policy_digest": "sha256:x", "peer": "ipv4:127.0.0.1:1",
            })  # fmt: skip
            digest = entry_hash(prev, seq, ts, "rpc", record)
            rows.append((seq, ts, "rpc", record, prev, digest))
            prev = digest
            if i % every == 0 and len(release_rows) < releases:
                rid = uuid.uuid4().hex
                artifact = json.dumps({"group_by": [], "measures": [{"kind": "count"}]})
                release_rows.append((rid, seq, "bank-a", "enterprise-stats", "statistics", ts,
                                     json.dumps({"epsilon_micro": 1000}), artifact))  # fmt: skip
                charge_rows.append((rid, "r", "bank-a", "enterprise-stats", "enterprises", 1000,
                                    0, "released", ts))  # fmt: skip
            if len(rows) == 50_000:
                w.executemany("INSERT INTO audit_log (seq, ts, kind, record, prev_hash, hash) "
                              "VALUES (?, ?, ?, ?, ?, ?)", rows)  # fmt: skip
                rows = []
        w.executemany(
            "INSERT INTO audit_log (seq, ts, kind, record, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        w.executemany("INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?)", release_rows)
        w.executemany(
            "INSERT INTO charges (release_id, request_id, principal, product, dataset, "
            "epsilon_micro, delta_femto, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            charge_rows,
        )


def timed_get(port: int, path: str) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {TOKENS['admin']}"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return time.perf_counter() - started, response.status


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms"


def per_call_us(fn, n: int = 20_000) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = make_zone_dir(Path(tmp) / "zone", rows=2000, extra_config=CONSOLE_CONFIG)
        services = build(load_config(config))
        started = time.perf_counter()
        fill(services.store, args.records, args.releases, args.days)
        print(f"appended {args.records:,} rpc records and {args.releases:,} releases "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.1f} (2 cores)")
        rss_before = rss_mib()
        deps = console_deps(services)
        console = start_console(deps)
        try:
            for path in ("/", "/audit?principal=bank-a", "/operators", "/releases", "/jobs"):
                times = [timed_get(console.port, path) for _ in range(args.repeats)]
                assert all(status == 200 for _, status in times), times
                print(f"GET {path:<26} median {median_ms([t for t, _ in times])} "
                      f"(first {times[0][0] * 1000:.0f} ms)")  # fmt: skip
            cold, warm, grown = [], [], []
            for _ in range(args.repeats):
                deps.evaluations._kept.clear()  # every operator report counted from scratch
                cold.append(timed_get(console.port, "/operators")[0])
                warm.append(timed_get(console.port, "/operators")[0])
                fill(services.store, 10_000, 0, 0)  # 10,000 new records since the last look
                grown.append(timed_get(console.port, "/operators")[0])
            print(f"GET /operators counted afresh   median {median_ms(cold)}")
            print(f"GET /operators kept, no change  median {median_ms(warm)}")
            print(f"GET /operators kept, +10,000    median {median_ms(grown)}")
            redrawn = []
            for _ in range(args.repeats):
                deps.charts._kept.clear()  # every chart redrawn, every query run again
                redrawn.append(timed_get(console.port, "/")[0])
            print(f"GET / with charts redrawn      median {median_ms(redrawn)}")
            alerts = deps.alerts
            evals = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                alerts.evaluate()
                evals.append(time.perf_counter() - t)
            print(f"alert evaluation (6 rules)    median {median_ms(evals)}")
            print(f"zone process RSS: {rss_before:.0f} MiB before the console, "
                  f"{rss_mib():.0f} MiB after serving it")  # fmt: skip
            suspended = per_call_us(lambda: services.suspensions.is_suspended("bank-a"))
            observed = per_call_us(lambda: services.call_metrics.observe(METHODS[0], "OK", 0.001))
            chain = AuditChain(services.store)
            appended = per_call_us(
                lambda: chain.append("bench", {"principal": "x"}, durable=False), 2_000
            )
            print(f"per call: suspension check {suspended:.1f} us, metrics {observed:.1f} us; "
                  f"one rpc audit append {appended:.0f} us "
                  f"(hooks = {(suspended + observed) / appended:.1%} of it)")  # fmt: skip
        finally:
            print(f"load average {os.getloadavg()[0]:.1f} at the end")
            console.stop()
            services.close()


if __name__ == "__main__":
    main()
