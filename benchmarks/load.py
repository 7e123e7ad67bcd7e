"""Mixed load against a zone this script starts: calls/s, latency, every non-OK status, shedding.

    .venv/bin/python benchmarks/load.py [--seconds 10] [--overload] [--rows 5000]

Starts ``zone serve`` (a temporary demo zone, loopback only) with bounded concurrency:
``max_concurrent_rpcs`` 16, 8 handler threads, 1 s of queueing at most. Client threads (each
with its own channel and one of four operator principals) then run a weighted mix for a fixed
time: catalog calls (List/Describe Datasets/Products), statistics (EstimateCost, Query), a
training job per phase (SubmitTraining, then GetJob polls) and, when VerificationService is in
the method table, matches of blinded claims (capital-match, consent off for the load). Every
call has a 5 s deadline; a DEADLINE_EXCEEDED counts as a hang.

Phases: ``nominal`` with half as many clients as the server's concurrency (never more calls in
flight than it accepts); with ``--overload`` also ``overload`` with twice as many. Shed calls
(RESOURCE_EXHAUSTED without a QuotaFailure detail, or UNAVAILABLE) back off for the server's
RetryInfo hint (50 ms when none) with jitter, as a well-behaved client does. The report gives,
per phase and kind, answered calls/s, p50/p99 latency of OK calls and every status by code;
for overload, the share shed and the counts of INTERNAL/UNKNOWN and of hangs (goal: 0; the
exit status is 1 otherwise). JSON goes to var/bench/load.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from zonekit import add_principal, make_zone_dir, serve_process  # noqa: E402

from zone._proto import (  # noqa: E402
    catalog_pb2,
    catalog_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    statistics_pb2_grpc,
)
from zone.client import ZoneClientError  # noqa: E402
from zone.client.stats import build_query, count, mean  # noqa: E402
from zone.server.methods import METHOD_TABLE  # noqa: E402

MAX_CONCURRENT, WORKERS, QUEUE_WAIT = 16, 8, 1.0
LIMITS = (
    f"limits: {{max_concurrent_rpcs: {MAX_CONCURRENT}, max_workers: {WORKERS}, "
    f"max_queue_wait_seconds: {QUEUE_WAIT}}}\n"
)
DEADLINE = 5.0
PRINCIPALS = 4
PRODUCTS = ("enterprise-stats", "enterprise-default-lr", "capital-match")
OUT = REPO / "var" / "bench" / "load.json"


@dataclass
class Record:
    """One call as the client saw it."""

    kind: str
    code: str
    seconds: float
    shed: bool


@dataclass
class Client:
    """One client thread's channel, credentials and records."""

    target: str
    token: str
    rng: random.Random
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.channel = grpc.insecure_channel(self.target)
        self.metadata = (("authorization", f"Bearer {self.token}"),)
        self.catalog = catalog_pb2_grpc.CatalogServiceStub(self.channel)
        self.stats = statistics_pb2_grpc.StatisticsServiceStub(self.channel)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)

    def call(self, kind: str, method: Callable[..., object], request: object) -> object | None:
        """Make one call with a deadline; record it; back off when it was shed."""
        started = time.perf_counter()
        try:
            reply = method(request, metadata=self.metadata, timeout=DEADLINE)
        except grpc.RpcError as err:
            shed, hint = _shed(err)
            self.records.append(Record(kind, err.code().name, time.perf_counter() - started, shed))  # type: ignore[attr-defined]
            if shed:
                time.sleep((hint or 0.05) * self.rng.uniform(0.5, 1.5))
            return None
        self.records.append(Record(kind, "OK", time.perf_counter() - started, False))
        return reply


def _shed(err: grpc.RpcError) -> tuple[bool, float | None]:
    """Whether the server shed the call (capacity, not budget), and its retry hint."""
    code = err.code()  # type: ignore[attr-defined]
    if code not in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
        return False, None
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    details = status.details if status is not None else []
    retry, quota = error_details_pb2.RetryInfo(), error_details_pb2.QuotaFailure()
    if any(d.Unpack(quota) for d in details):
        return False, None  # a budget or quota: retrying will not help
    hint = next((retry.retry_delay.ToNanoseconds() / 1e9 for d in details if d.Unpack(retry)), None)
    return True, hint


def catalog_step(client: Client) -> None:
    """One catalog call."""
    choice = client.rng.randrange(4)
    c = client.catalog
    if choice == 0:
        client.call("catalog", c.ListDatasets, catalog_pb2.ListDatasetsRequest())
    elif choice == 1:
        client.call(
            "catalog", c.DescribeDataset, catalog_pb2.DescribeDatasetRequest(name="enterprises")
        )
    elif choice == 2:
        client.call("catalog", c.ListProducts, catalog_pb2.ListProductsRequest())
    else:
        client.call(
            "catalog", c.DescribeProduct, catalog_pb2.DescribeProductRequest(id="enterprise-stats")
        )


def statistics_step(client: Client) -> None:
    """One statistics call: a cost estimate or a tiny-epsilon release."""
    query = (
        build_query("enterprise-stats", [count()], epsilon=1e-4, group_by=["district"])
        if client.rng.random() < 0.5
        else build_query("enterprise-stats", [mean("employees")], epsilon=1e-4)
    )
    method = client.stats.EstimateCost if client.rng.random() < 0.3 else client.stats.Query
    client.call("statistics", method, query)


class Verifier:
    """Matches of blinded claims through the SDK, when the zone serves VerificationService."""

    def __init__(self, target: str, token: str, subjects: list[dict[str, str]]) -> None:
        from zone.client import ZoneClient

        self.sdk = ZoneClient(target, token=token, timeout=DEADLINE * 4)
        self.purpose = self.sdk.describe_product("capital-match").grant.purpose  # type: ignore[union-attr]
        self.subjects = subjects

    def step(self, client: Client) -> None:
        """Match the true claims of 4 subjects (one call to the SDK, timed as one)."""
        rows = client.rng.sample(self.subjects, 4)
        claims = {c: [float(r[c]) for r in rows] for c in ("registered_capital", "employees")}
        started = time.perf_counter()
        code, shed = "OK", False
        try:
            self.sdk.match("capital-match", [r["uscc"] for r in rows], claims,  # type: ignore[arg-type]
                           purpose=self.purpose)  # fmt: skip
        except ZoneClientError as exc:
            code = exc.code.name
            # Capacity (no QuotaFailure lines) or UNAVAILABLE: shed; a budget or quota: not.
            shed = exc.code == grpc.StatusCode.UNAVAILABLE or (
                exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED and not exc.details
            )
        client.records.append(Record("verification", code, time.perf_counter() - started, shed))
        if shed:
            time.sleep(0.05 * client.rng.uniform(0.5, 1.5))


def trainer(client: Client, stop: threading.Event) -> None:
    """Submit one small training job, then poll it until it ends or the phase does."""
    request = jobs_pb2.TrainingRequest(
        product="enterprise-default-lr", epsilon=0.5, delta=1e-8, epochs=1, batch_size=256
    )
    job = None
    while job is None and not stop.is_set():  # a shed submission is retried after backoff
        job = client.call("training", client.jobs.SubmitTraining, request)
    while isinstance(job, jobs_pb2.Job) and not stop.wait(0.5):
        polled = client.call("training", client.jobs.GetJob, jobs_pb2.JobRef(job_id=job.job_id))
        if isinstance(polled, jobs_pb2.Job) and polled.state >= jobs_pb2.SUCCEEDED:
            return


def run_phase(
    target: str, tokens: list[str], clients: int, seconds: float, verifiers: list[Verifier]
) -> dict[str, object]:
    """``clients`` threads running the mix for ``seconds``; the summary of what they saw."""
    stop = threading.Event()
    pool = [Client(target, tokens[i % len(tokens)], random.Random(i)) for i in range(clients + 1)]

    def loop(i: int) -> None:
        client = pool[i]
        while not stop.is_set():
            roll = client.rng.random()
            if verifiers and roll < 0.1:
                verifiers[i % len(verifiers)].step(client)
            elif roll < 0.55:
                catalog_step(client)
            else:
                statistics_step(client)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=trainer, args=(pool[-1], stop)))
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(DEADLINE * 5)
    elapsed = time.perf_counter() - started
    for client in pool:
        client.channel.close()
    return summarize([r for c in pool for r in c.records], elapsed, clients)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000  # type: ignore[index]


def summarize(records: list[Record], elapsed: float, clients: int) -> dict[str, object]:
    """Calls/s, latency percentiles and statuses, by kind and overall."""
    kinds: dict[str, object] = {}
    for kind in sorted({r.kind for r in records}) + ["all"]:
        mine = [r for r in records if kind in ("all", r.kind)]
        ok = [r.seconds for r in mine if r.code == "OK"]
        kinds[kind] = {
            "calls": len(mine),
            "ok_per_s": round(len(ok) / elapsed, 1),
            "p50_ms": _round(_percentile(ok, 50)),
            "p99_ms": _round(_percentile(ok, 99)),
            "statuses": dict(Counter(r.code for r in mine).most_common()),
        }
    shed = sum(r.shed for r in records)
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "kinds": kinds,
        "shed": shed,
        "shed_share": round(shed / max(1, len(records)), 4),
        "internal_or_unknown": sum(r.code in ("INTERNAL", "UNKNOWN") for r in records),
        "hangs": sum(r.code == "DEADLINE_EXCEEDED" for r in records),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def print_phase(name: str, phase: dict[str, object]) -> None:
    """A small table."""
    print(f"\n{name}: {phase['clients']} clients, {phase['seconds']} s, shed share "
          f"{phase['shed_share']:.1%}, INTERNAL/UNKNOWN {phase['internal_or_unknown']}, "
          f"hangs {phase['hangs']}")  # fmt: skip
    print(f"  {'kind':<13}{'calls':>7}{'OK/s':>8}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for kind, k in phase["kinds"].items():  # type: ignore[attr-defined]
        print(f"  {kind:<13}{k['calls']:>7}{k['ok_per_s']:>8}{k['p50_ms'] or '-':>9}"
              f"{k['p99_ms'] or '-':>9}  {k['statuses']}")  # fmt: skip


def make_zone(root: Path, rows: int) -> tuple[Path, list[str], list[dict[str, str]]]:
    """A demo zone with bounded limits and four operators; some registry rows for matching."""
    config = make_zone_dir(root, rows=rows, extra_config=LIMITS)
    product = config.parent / "models" / "capital-match.yaml"  # no consents to register here
    product.write_text(product.read_text().replace("consent: operator", "consent: none"))
    tokens = [
        add_principal(
            config, f"load-{i}", products=PRODUCTS, epsilon=10.0, delta=1e-6, per_job_epsilon=1.0
        )  # fmt: skip
        for i in range(PRINCIPALS)
    ]
    with (root / "enterprises.csv").open() as f:
        subjects = list(csv.DictReader(f))
    return config, tokens, subjects


def verifiers_for(target: str, tokens: list[str], subjects: list[dict[str, str]]) -> list[Verifier]:
    """One verifier per principal when the zone serves verification, else none (noted)."""
    if "/zone.v1.VerificationService/Match" not in METHOD_TABLE:
        print("note: VerificationService is not in the method table; no verification calls")
        return []
    try:
        return [Verifier(target, token, subjects) for token in tokens]
    except Exception as exc:  # noqa: BLE001 - the SDK for verification may still change
        print(f"note: verification skipped, setup failed: {type(exc).__name__}: {exc}")
        return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--overload", action="store_true")
    parser.add_argument("--no-verification", action="store_true", help="leave out HE matches")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config, tokens, subjects = make_zone(Path(tmp) / "zone", args.rows)
        proc, target = serve_process(config)
        try:
            verifiers = [] if args.no_verification else verifiers_for(target, tokens, subjects)
            phases = {
                "nominal": run_phase(target, tokens, MAX_CONCURRENT // 2, args.seconds, verifiers)
            }
            if args.overload:
                phases["overload"] = run_phase(
                    target, tokens, 2 * MAX_CONCURRENT, args.seconds, verifiers
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            if proc.stdout:
                proc.stdout.close()
    report = {
        "cpus": os.cpu_count(),
        "limits": {
            "max_concurrent_rpcs": MAX_CONCURRENT,
            "max_workers": WORKERS,
            "max_queue_wait_seconds": QUEUE_WAIT,
            "deadline_s": DEADLINE,
        },  # fmt: skip
        "verification": bool(verifiers),
        "phases": phases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for name, phase in phases.items():
        print_phase(name, phase)
    print(f"\nwrote {args.out}")
    bad = sum(int(p["internal_or_unknown"]) + int(p["hangs"]) for p in phases.values())  # type: ignore[call-overload]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
