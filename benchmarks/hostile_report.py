"""Hostile inputs per method: how many were tried, what status each got, crashes, INTERNALs.

    .venv/bin/python benchmarks/hostile_report.py

Starts ``zone serve`` on a temporary demo zone (loopback only) and sends, to every method of
the method table, the hostile cases of tests/hostilekit.py (the same ones the security test
sends, where each call is also checked to charge nothing). Prints a table and writes
var/bench/hostile.json. Crashes are server deaths (checked after every method); the exit
status is 1 if any crash, INTERNAL or UNKNOWN was seen.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from hostilekit import cases_for, send, served_methods  # noqa: E402
from zonekit import make_zone_dir, serve_process  # noqa: E402

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
OUT = REPO / "var" / "bench" / "hostile.json"


def main() -> int:
    report: dict[str, dict[str, object]] = {}
    crashes = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        config = make_zone_dir(Path(tmp) / "zone")
        proc, target = serve_process(config)
        try:
            for method in served_methods():
                cases = cases_for(method, MAX_MESSAGE_BYTES)
                statuses: Counter[str] = Counter()
                with grpc.insecure_channel(target) as channel:
                    for case in cases:
                        statuses[send(channel, method, case)[0].name] += 1
                if proc.poll() is not None:
                    crashes += 1
                    proc, target = serve_process(config)
                report[method.path] = {
                    "inputs": len(cases),
                    "kinds": dict(Counter(c.kind for c in cases)),
                    "statuses": dict(statuses.most_common()),
                }
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            if proc.stdout:
                proc.stdout.close()
    bad = {
        path: {c: n for c, n in r["statuses"].items() if c in ("INTERNAL", "UNKNOWN")}  # type: ignore[attr-defined]
        for path, r in report.items()
    }
    total = sum(int(r["inputs"]) for r in report.values())  # type: ignore[call-overload]
    internal = sum(sum(b.values()) for b in bad.values())
    summary = {"methods": len(report), "inputs": total, "crashes": crashes,
               "internal_or_unknown": internal,
               "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"summary": summary, "methods": report}, indent=2) + "\n")
    print(f"{'method':<64}{'inputs':>7}  statuses")
    for path, r in report.items():
        print(f"{path:<64}{r['inputs']:>7}  {r['statuses']}")
    print(f"\n{summary}\nwrote {OUT}")
    return 1 if crashes or internal else 0


if __name__ == "__main__":
    sys.exit(main())
