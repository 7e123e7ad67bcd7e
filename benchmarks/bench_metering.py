"""The cost of metering and auditing per call, measured with and without them in the same run.

Builds a zone folder (synthetic enterprise registry, 20,000 rows by default), grants a principal
a large budget, a large daily quota and a tiered price, starts the zone in this process
(``zonekit.running_zone``) and measures, in interleaved rounds:

1. DP statistics ``Query`` calls per second over gRPC from one client thread, in three modes:
   ``full`` (production: privacy ledger + metering + audit records), ``no_metering`` (the
   release desk's Metering replaced by a no-op) and ``no_metering_no_audit`` (also every audit
   append replaced by a no-op: no rpc record, no ledger or metering record, no receipt on the
   chain). The switches are assignments on the running zone's objects in this benchmark
   process: no configuration can set them.
2. The same three modes for the statistics service called in-process (no gRPC).
3. The pieces alone: ``Metering.charge`` in its own durable transaction, and a durable
   ``AuditChain.append``, per second.

Prints a report with the ratios and writes it as JSON (``--out``, default var/bench/metering.json).

    .venv/bin/python benchmarks/bench_metering.py [--rows 20000] [--calls 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from zonekit import make_zone_dir, running_zone  # noqa: E402

from zone.audit import AuditEntry  # noqa: E402
from zone.client import ZoneClient  # noqa: E402
from zone.client.stats import count  # noqa: E402
from zone.policy import token_digest  # noqa: E402
from zone.products.statistics import Measure, StatsQuery  # noqa: E402
from zone.server.app import RunningZone  # noqa: E402
from zone.server.wiring import ZoneServices  # noqa: E402

PRODUCT = "enterprise-stats"
TOKEN = "bench-metering-token"
MODES = ("full", "no_metering", "no_metering_no_audit")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(root: Path, rows: int) -> Path:
    config = make_zone_dir(root, rows=rows)
    demo = config.parent / "policies" / "demo.yaml"
    demo.write_text(
        demo.read_text().replace("epsilon: 50.0, delta: 1.0e-5", "epsilon: 1.0e+9, delta: 1.0e-5")
    )
    (config.parent / "policies" / "bench.yaml").write_text(
        "principals:\n  - id: bench\n    role: operator\n    organisation: benchmark\n"
        f"    token_sha256: {token_digest(TOKEN)}\n"
        "grants:\n  - principal: bench\n    products: [enterprise-stats]\n"
        "    budget: {enterprises: {epsilon: 1.0e+9, delta: 1.0e-5}}\n"
        "    quota: {calls_per_day: 1000000000}\n"
        "    price:\n      currency: CNY\n      tiers:\n"
        "        - {from_calls: 0, per_call: 0.05}\n        - {from_calls: 100, per_call: 0.03}\n"
        "    purpose: benchmark\n"
    )
    return config


class _NoMetering:
    """Benchmark-only stand-in for Metering: admits every call and records nothing."""

    def charge(self, *args: Any, **kwargs: Any) -> Any:
        return _NO_CHARGE

    def void(self, *args: Any, **kwargs: Any) -> bool:
        return False


class _NoCharge:
    usage_id = ""


_NO_CHARGE = _NoCharge()


_FAKE_SEQ = itertools.count(10**12)  # never a real seq (release rows reference it uniquely)


def _no_audit(kind: str, record: Any, **kwargs: Any) -> AuditEntry:
    return AuditEntry(next(_FAKE_SEQ), "", kind, dict(record), "", "")


@contextmanager
def mode(services: ZoneServices, name: str) -> Iterator[None]:
    """Switch metering and auditing off in the running zone (this process only)."""
    desk = services.desk
    metering, append = desk._metering, services.audit.append
    try:
        if name in ("no_metering", "no_metering_no_audit"):
            desk._metering = _NoMetering()  # type: ignore[assignment]
        if name == "no_metering_no_audit":
            services.audit.append = _no_audit  # type: ignore[method-assign]
        yield
    finally:
        desk._metering = metering
        services.audit.append = append  # type: ignore[method-assign]


def rate(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return calls / (time.perf_counter() - start)


def measure_modes(
    zone: RunningZone, calls: int, rounds: int, label: str, fn: Callable[[], object]
) -> dict[str, Any]:
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    for _ in range(5):
        fn()  # warm up
    for r in range(rounds):
        order = MODES if r % 2 == 0 else tuple(reversed(MODES))
        for name in order:
            try:
                with mode(zone.services, name):
                    rates[name].append(rate(fn, calls))
            except Exception as exc:  # noqa: BLE001 - report a mode that cannot run
                log(f"{label} {name}: {type(exc).__name__}: {exc}")
                rates[name] = []
                break
    medians = {m: statistics.median(v) if v else None for m, v in rates.items()}
    full = medians["full"]
    out: dict[str, Any] = {"calls_per_s": medians, "rounds": rates}
    for name in MODES[1:]:
        other = medians[name]
        if full and other:
            out[f"ratio_full_to_{name}"] = full / other
            out[f"cost_us_per_call_vs_{name}"] = (1 / full - 1 / other) * 1e6
    log(f"{label}: " + ", ".join(f"{m} {v:.0f}/s" for m, v in medians.items() if v))
    return out


def components(zone: RunningZone, calls: int) -> dict[str, float]:
    services = zone.services
    policies = services.serving.current
    grant = next(g for g in policies.grants if g.principal == "bench")

    def charge() -> None:
        services.metering.charge("bench", grant, PRODUCT, unit="call", request_id="bench")

    def append() -> None:
        services.audit.append("bench", {"request_id": uuid.uuid4().hex, "principal": "bench"})

    out = {"metering_charge_per_s": rate(charge, calls), "audit_append_per_s": rate(append, calls)}
    log(", ".join(f"{k} {v:.0f}" for k, v in out.items()))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-metering-") as tmp:
        log(f"building a zone with {args.rows} rows")
        config = prepare(Path(tmp) / "zone", args.rows)
        with running_zone(config) as zone, ZoneClient(f"127.0.0.1:{zone.port}", token=TOKEN) as c:
            service = zone.services.statistics
            principal = zone.services.serving.current.principals["bench"]
            query = StatsQuery(product=PRODUCT, measures=(Measure(kind="count"),), epsilon=0.01)

            def grpc_call() -> object:
                return c.query_statistics(PRODUCT, [count()], epsilon=0.01)

            def local_call() -> object:
                return service.run(
                    zone.services.serving.current, principal, query, uuid.uuid4().hex
                )

            report = {
                "grpc_query": measure_modes(zone, args.calls, args.rounds, "gRPC Query", grpc_call),
                "in_process_query": measure_modes(
                    zone, args.calls, args.rounds, "in-process", local_call
                ),
                "components": components(zone, args.calls),
            }
    report["setup"] = {
        "rows": args.rows,
        "calls": args.calls,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "metering.json")
    args = parser.parse_args()
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for label in ("grpc_query", "in_process_query"):
        r = report[label]
        rates = r["calls_per_s"]
        print(f"{label}: " + "  ".join(f"{m} {v:.0f}/s" for m, v in rates.items() if v))
        for name in MODES[1:]:
            if f"ratio_full_to_{name}" in r:
                print(
                    f"  full / {name}: {r[f'ratio_full_to_{name}']:.3f} "
                    f"({r[f'cost_us_per_call_vs_{name}']:.0f} us per call)"
                )
    comp = report["components"]
    print(
        f"components: Metering.charge {comp['metering_charge_per_s']:.0f}/s "
        f"({1e6 / comp['metering_charge_per_s']:.0f} us), durable audit append "
        f"{comp['audit_append_per_s']:.0f}/s ({1e6 / comp['audit_append_per_s']:.0f} us)"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
