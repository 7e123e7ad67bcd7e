"""DP statistics through the zone against the same query run in-process, measured in the same run.

Builds a zone folder with a synthetic enterprise registry (1,000,000 rows by default), grants a
principal a large budget, starts `zone serve` on 127.0.0.1:0 and measures, in one run:

1. latency of a DP count by district (16 declared keys, epsilon 1), N times, interleaved over
   three paths: the zone (client -> gRPC -> ledger reservation -> DuckDB -> OpenDP -> receipt ->
   reply); the zone's own planner and executor in-process (plan_query + execute on a read-only
   DuckDB cursor of the same file, no gRPC, no ledger); and a plain DuckDB GROUP BY plus
   OpenDP `make_laplace` written with the libraries only. Medians, p90s and ratios.
2. ledger throughput: PrivacyLedger.reserve (epsilon 0.001) from 8 threads, each with its own
   StateStore on one SQLite file, for a fixed time; also reserve + release cycles; and Query
   calls per second through gRPC from 8 concurrent clients.
3. error of the zone's released counts against the exact counts (DuckDB) versus the standard
   deviation of discrete Laplace noise at the stated scale.
4. SmartNoise SQL 1.0.10 as a peer on the same data and query, in its own virtualenv
   (`benchmarks/.venv-smartnoise`, created here if missing; it pins opendp <0.15 and pandas <3),
   run through `benchmarks/smartnoise_peer.py`. If it cannot be installed, the reason is printed
   and the rest still runs.

Prints a report and writes it as JSON (``--out``, default var/bench/statistics.json).

    .venv/bin/python benchmarks/bench_statistics.py [--rows 1000000] [--queries 200]

``--mode fair`` measures the zone end to end through gRPC against a plain DuckDB GROUP BY
computing the same aggregates on the same file, in interleaved rounds (see ``stats_fair.py``):

    PYTHONPATH=. .venv/bin/python benchmarks/bench_statistics.py --mode fair --rows 10000000
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import grpc
import opendp.prelude as dp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from zonekit import add_principal, make_zone_dir  # noqa: E402

from zone.audit import AuditChain  # noqa: E402
from zone.catalog import (  # noqa: E402
    DatasetCatalog,
    StatisticsProduct,
    list_datasets,
    load_products,
    table_name,
)
from zone.client import ZoneClient  # noqa: E402
from zone.client.health import wait_until_serving  # noqa: E402
from zone.client.stats import count  # noqa: E402
from zone.ledger import Account, Amount, PrivacyLedger  # noqa: E402
from zone.products.statistics import Measure, StatsQuery, execute, plan_query  # noqa: E402
from zone.state import StateStore  # noqa: E402

PRODUCT = "enterprise-stats"
DATASET = "enterprises"
EPSILON = 1.0
SMARTNOISE_VENV = REPO / "benchmarks" / ".venv-smartnoise"
SMARTNOISE_SPEC = "smartnoise-sql==1.0.10"
PEER = REPO / "benchmarks" / "smartnoise_peer.py"
GOALS = {"latency_ratio_max": 1.5, "reservations_per_s_min": 500.0}


# --- small helpers ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms) if ms else math.nan,
        "p90_ms": quantile(ms, 0.9),
        "min_ms": min(ms) if ms else math.nan,
        "max_ms": max(ms) if ms else math.nan,
    }


def error_summary(errors: Sequence[float]) -> dict[str, float]:
    n = len(errors)
    if n == 0:
        return {
            "n": 0,
            "rmse": math.nan,
            "rmse_se": math.nan,
            "bias": math.nan,
            "max_abs": math.nan,
        }
    mse = math.fsum(e * e for e in errors) / n
    fourth = math.fsum(e**4 for e in errors) / n
    rmse = math.sqrt(mse)
    return {
        "n": n,
        "rmse": rmse,
        # standard error of the RMSE (delta method; noise draws are independent)
        "rmse_se": math.sqrt(max(fourth - mse * mse, 0.0) / n) / (2 * rmse) if rmse else 0.0,
        "bias": math.fsum(errors) / n,
        "max_abs": max(abs(e) for e in errors),
    }


def ratio_interval(
    numerator: Sequence[float], denominator: Sequence[float], resamples: int = 1000
) -> tuple[float, float]:
    """95% bootstrap interval of median(numerator) / median(denominator), resampling rounds."""
    n = min(len(numerator), len(denominator))
    if n < 2:
        return math.nan, math.nan
    rng = random.Random(20261127)
    ratios = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        ratios.append(
            statistics.median(numerator[i] for i in picks)
            / statistics.median(denominator[i] for i in picks)
        )
    return quantile(ratios, 0.025), quantile(ratios, 0.975)


def finite_or_none(value: Any) -> Any:
    """The report with NaN and infinities as null (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    return value


def discrete_laplace_sd(scale: float) -> float:
    q = math.exp(-1.0 / scale)
    return math.sqrt(2 * q) / (1 - q)


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


class ForeignCpu:
    """CPU used by processes other than this one and ``pids`` (in cores), from /proc."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = (os.getpid(), *pids)
        self.started = time.monotonic()
        self.start = self._foreign()

    @staticmethod
    def _busy() -> int:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        return user + nice + system + irq + softirq + steal

    @staticmethod
    def _own(pid: int) -> int:
        try:
            after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(after_name[11]) + int(after_name[12])  # utime + stime, all threads

    def _foreign(self) -> int:
        return self._busy() - sum(self._own(pid) for pid in self.pids)

    def cores(self) -> float:
        try:
            jiffies = self._foreign() - self.start
            return max(jiffies, 0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - self.started)
        except (OSError, ValueError, IndexError):
            return math.nan


# --- SmartNoise virtualenv -------------------------------------------------------------------


class SmartNoiseSetup:
    """Creates benchmarks/.venv-smartnoise in the background (during data generation)."""

    def __init__(self, venv: Path, timeout: float) -> None:
        self.venv = venv
        self.python = venv / "bin" / "python"
        self.timeout = timeout
        self.error: str | None = None
        self.installed_now = False
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self) -> Path | None:
        self._thread.join(self.timeout + 30)
        if self._thread.is_alive():
            self.error = self.error or f"setup still running after {self.timeout:.0f} s"
        return None if self.error else self.python

    def _works(self) -> bool:
        if not self.python.exists():
            return False
        probe = subprocess.run(
            [str(self.python), "-c", "import snsql"], capture_output=True, timeout=60
        )
        return probe.returncode == 0

    def _run(self) -> None:
        started = time.monotonic()
        try:
            if self._works():
                return
            base = shutil.which("python3.11") or sys.executable
            steps = [
                [base, "-m", "venv", "--clear", str(self.venv)],
                [str(self.python), "-m", "pip", "install", "--quiet", SMARTNOISE_SPEC],
            ]
            for step in steps:
                left = self.timeout - (time.monotonic() - started)
                done = subprocess.run(step, capture_output=True, text=True, timeout=max(left, 1))
                if done.returncode != 0:
                    lines = (done.stderr + done.stdout).strip().splitlines()
                    wanted = [ln for ln in lines if not ln.startswith("WARNING")] or lines
                    self.error = f"`{' '.join(step[-3:])}` failed: " + " | ".join(wanted[-2:])
                    return
            if not self._works():
                self.error = "smartnoise-sql installed but `import snsql` fails"
                return
            self.installed_now = True
        except subprocess.TimeoutExpired:
            self.error = f"setup took more than {self.timeout:.0f} s"
        except OSError as exc:
            self.error = f"cannot create the venv: {exc}"
        finally:
            self.seconds = time.monotonic() - started


# --- the three latency paths -----------------------------------------------------------------


class ZonePath:
    """Through the zone: the SDK's query_statistics over gRPC to `zone serve`."""

    def __init__(self, target: str, token: str) -> None:
        self.client = ZoneClient(target, token=token, timeout=30)
        self.releases: list[dict[str, float]] = []
        self.scales: set[float] = set()

    def __call__(self) -> None:
        result = self.client.query_statistics(
            PRODUCT, [count()], epsilon=EPSILON, group_by=["district"]
        )
        measure = result.results[0]
        self.scales.update(measure.plan.noise_scales)
        self.releases.append({key[0]: values[0] for key, values in measure.cells.items()})

    def close(self) -> None:
        self.client.close()


class InProcessPath:
    """The zone's planner and executor on a read-only cursor: no gRPC, no ledger, no audit."""

    def __init__(self, catalog: DatasetCatalog, product: StatisticsProduct) -> None:
        self.catalog = catalog
        self.product = product
        self.meta = catalog.get(DATASET).meta
        self.table = table_name(DATASET)
        self.query = StatsQuery(
            product=PRODUCT, measures=(Measure("count"),), group_by=("district",), epsilon=EPSILON
        )
        self.releases: list[dict[str, float]] = []

    def __call__(self) -> None:
        plan = plan_query(self.query, self.product, self.meta)
        cursor = self.catalog.cursor()
        try:
            release = execute(plan, cursor, self.table)
        finally:
            cursor.close()
        cells = release.measures[0].cells
        self.releases.append({cell.key[0]: cell.values[0] for cell in cells})


class PlainPath:
    """DuckDB GROUP BY + OpenDP make_laplace written directly, no zone code."""

    def __init__(self, db_path: Path, districts: Sequence[str]) -> None:
        dp.enable_features("contrib")
        # The same configuration as the zone's catalog (one process, one DuckDB instance).
        self.connection = duckdb.connect(
            str(db_path), read_only=True, config={"enable_external_access": False}
        )
        self.districts = tuple(districts)
        scale = 1.0 / EPSILON
        self.measurement = dp.m.make_laplace(
            dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=scale
        )
        if self.measurement.map(1) > EPSILON:
            raise SystemExit("plain baseline: the OpenDP map does not confirm epsilon")
        self.sql = f"SELECT district, count(*) FROM {table_name(DATASET)} GROUP BY district"
        self.releases: list[dict[str, float]] = []

    def __call__(self) -> None:
        cursor = self.connection.cursor()
        try:
            exact = dict(cursor.execute(self.sql).fetchall())
        finally:
            cursor.close()
        noisy = self.measurement([int(exact.get(d, 0)) for d in self.districts])
        self.releases.append(dict(zip(self.districts, map(float, noisy), strict=True)))

    def close(self) -> None:
        self.connection.close()


def run_interleaved(
    paths: dict[str, Callable[[], None]], n: int, max_seconds: float
) -> dict[str, list[float]]:
    """Each path ``n`` times, in rotating order so that drift hits all of them alike."""
    names = list(paths)
    times: dict[str, list[float]] = {name: [] for name in names}
    deadline = time.monotonic() + max_seconds
    for i in range(n):
        if time.monotonic() > deadline:
            log(f"latency phase stopped at {i} rounds (time cap {max_seconds:.0f} s)")
            break
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            paths[name]()
            times[name].append(time.perf_counter() - started)
    return times


def errors_against(
    releases: Sequence[dict[str, float]], exact: dict[str, int], keys: Sequence[str]
) -> list[float]:
    return [release[k] - exact.get(k, 0) for release in releases for k in keys if k in release]


# --- throughput ------------------------------------------------------------------------------


def timed_threads(
    threads: int, seconds: float, setup: Callable[[int], Any], step: Callable[[Any, int], None]
) -> tuple[float, int, dict[str, int]]:
    """Run ``step`` in ``threads`` threads for ``seconds``; (ops/s, ops, errors by type)."""
    counts = [0] * threads
    errors: dict[str, int] = {}
    lock = threading.Lock()
    ready = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(i: int) -> None:
        try:
            state = setup(i)
        except Exception as exc:  # noqa: BLE001 - reported; the window is then not run
            with lock:
                errors[f"setup: {type(exc).__name__}: {exc}"] = 1
            ready.abort()
            return
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            return
        while not stop.is_set():
            try:
                step(state, i)
                counts[i] += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if sum(errors.values()) > 1000:
                    return
        close = getattr(state, "close", None)
        if close is not None:
            close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    try:
        ready.wait(timeout=120)
    except threading.BrokenBarrierError:
        stop.set()
        for t in pool:
            t.join(timeout=60)
        return 0.0, 0, errors
    started = time.perf_counter()
    time.sleep(seconds)
    done = sum(counts)
    elapsed = time.perf_counter() - started
    stop.set()
    for t in pool:
        t.join(timeout=60)
    return done / elapsed, done, errors


class LedgerWorker:
    def __init__(self, path: Path) -> None:
        self.store = StateStore.open(path)
        self.ledger = PrivacyLedger(self.store, AuditChain(self.store))

    def close(self) -> None:
        self.store.close()


def ledger_throughput(path: Path, threads: int, seconds: float) -> dict[str, Any]:
    StateStore.open(path).close()  # migrate once
    account = Account(
        "bench", DATASET, limit=Amount.limit(1e9), cap=Amount.limit(1e9, 1e-5)
    )  # a zone-wide cap, as the demo policy has
    cost = Amount.cost(0.001)
    out: dict[str, Any] = {"threads": threads, "seconds": seconds, "epsilon_per_op": 0.001}
    sequence = itertools.count()

    def reserve(worker: LedgerWorker, i: int) -> None:
        worker.ledger.reserve(account, product=PRODUCT, cost=cost, request_id=f"r{next(sequence)}")

    def cycle(worker: LedgerWorker, i: int) -> None:
        request = f"c{next(sequence)}"
        reservation = worker.ledger.reserve(account, product=PRODUCT, cost=cost, request_id=request)
        worker.ledger.release(reservation, {"release_id": reservation.release_id, "n": i})

    total_ops = 0
    for name, step in (("reserve", reserve), ("reserve_release", cycle)):
        rate, ops, errors = timed_threads(threads, seconds, lambda i: LedgerWorker(path), step)
        out[name] = {"per_s": rate, "ops_in_window": ops, "errors": errors}
        log(f"ledger {name}: {rate:.0f}/s ({threads} threads)")
    # Every reservation that returned must be in the ledger: spent == 0.001 x charges.
    with StateStore.open(path) as store:
        ledger = PrivacyLedger(store, AuditChain(store))
        spent = ledger.balance(account).spent.epsilon_micro
        with store.read() as conn:
            total_ops = conn.execute("SELECT count(*) FROM charges").fetchone()[0]
    out["charges"] = total_ops
    out["consistent"] = spent == total_ops * cost.epsilon_micro
    return out


def grpc_throughput(target: str, token: str, threads: int, seconds: float) -> dict[str, Any]:
    def setup(i: int) -> ZoneClient:
        client = ZoneClient(target, token=token, timeout=30)
        client.query_statistics(PRODUCT, [count()], epsilon=EPSILON, group_by=["district"])
        return client

    def step(client: ZoneClient, i: int) -> None:
        client.query_statistics(PRODUCT, [count()], epsilon=EPSILON, group_by=["district"])

    rate, ops, errors = timed_threads(threads, seconds, setup, step)
    log(f"gRPC Query: {rate:.1f}/s ({threads} clients)")
    return {"clients": threads, "seconds": seconds, "per_s": rate, "ops": ops, "errors": errors}


# --- SmartNoise peer -------------------------------------------------------------------------


def smartnoise_peer(
    setup: SmartNoiseSetup | None,
    csv: Path,
    args: argparse.Namespace,
    exact: dict[str, int],
    districts: Sequence[str],
) -> dict[str, Any]:
    if setup is None:
        return {"ok": False, "why": "skipped (--no-smartnoise)"}
    python = setup.wait()
    if python is None:
        return {"ok": False, "why": f"SmartNoise SQL could not be installed: {setup.error}"}
    command = [
        str(python), str(PEER), "--csv", str(csv), "--queries", str(args.sn_queries),
        "--seconds", str(args.sn_seconds), "--epsilon", str(EPSILON), "--delta", str(args.sn_delta),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=args.sn_seconds + 240
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "why": "the SmartNoise peer timed out"}
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-5:])
        return {"ok": False, "why": f"the SmartNoise peer failed: {tail}"}
    report = json.loads(done.stdout.strip().splitlines()[-1])
    releases: list[dict[str, float]] = report.pop("releases")
    released = [sum(1 for d in districts if d in r) for r in releases]
    return {
        "ok": True,
        **{k: v for k, v in report.items() if k != "latencies_s"},
        "latency": latency_summary(report["latencies_s"]),
        "error": error_summary(errors_against(releases, exact, districts)),
        "districts_released_min": min(released) if released else 0,
        "districts_released_max": max(released) if released else 0,
        "undeclared_keys_released": sorted({k for r in releases for k in r} - set(districts)),
        "installed_now": setup.installed_now,
        "install_s": setup.seconds,
    }


# --- main ------------------------------------------------------------------------------------


def lift_zone_cap(config: Path) -> None:
    demo = config.parent / "policies" / "demo.yaml"
    text = demo.read_text()
    lifted = text.replace("epsilon: 50.0, delta: 1.0e-5", "epsilon: 1.0e+9, delta: 1.0e-5")
    if lifted == text:
        raise SystemExit("policies/demo.yaml: the zone-wide cap line was not found")
    demo.write_text(lifted)


def start_zone(config: Path) -> tuple[subprocess.Popen[str], str]:
    zone = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "serve",
         "--config", str(config), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert zone.stdout is not None
    line = zone.stdout.readline()
    if not line:
        zone.wait(timeout=30)
        raise SystemExit(f"zone serve exited with {zone.returncode} before listening")
    target = line.split()[-1]
    wait_until_serving(target, timeout=60)
    return zone, target


def stop_zone(zone: subprocess.Popen[str]) -> None:
    if zone.poll() is None:
        zone.send_signal(signal.SIGTERM)
        try:
            zone.wait(timeout=30)
        except subprocess.TimeoutExpired:
            zone.kill()
            zone.wait(timeout=10)
    if zone.stdout:
        zone.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("full", "fair"), default="full")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30, help="fair mode: interleaved rounds")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="fair mode: time cap")
    parser.add_argument("--data", type=Path, help="fair mode: keep the zone folder here")
    parser.add_argument(
        "--baseline-tree", type=Path, help="fair mode: also serve the zone of this checkout"
    )
    parser.add_argument(
        "--copies", type=int, default=1, help="fair mode: generate rows/copies, replicate"
    )
    parser.add_argument("--wide", type=int, default=2, help="fair mode: wide queries at the end")
    parser.add_argument("--queries", type=int, default=200, help="latency rounds (each path)")
    parser.add_argument("--latency-max-seconds", type=float, default=120.0)
    parser.add_argument("--seconds", type=float, default=5.0, help="each throughput window")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--sn-queries", type=int, default=30)
    parser.add_argument("--sn-seconds", type=float, default=60.0)
    parser.add_argument("--sn-delta", type=float, default=1e-6)
    parser.add_argument("--sn-install-timeout", type=float, default=300.0)
    parser.add_argument("--no-smartnoise", action="store_true")
    parser.add_argument("--out", type=Path, help="default var/bench/statistics[_fair_ROWS].json")
    args = parser.parse_args()
    if args.mode == "fair":
        import stats_fair

        return stats_fair.run(args)
    args.out = args.out or REPO / "var" / "bench" / "statistics.json"
    run_started = time.perf_counter()

    setup = None
    if not args.no_smartnoise:
        setup = SmartNoiseSetup(SMARTNOISE_VENV, args.sn_install_timeout)
        setup.start()

    with tempfile.TemporaryDirectory(prefix="zone-bench-stats-") as tmp:
        root = Path(tmp)
        log(f"generating and importing {args.rows:,} rows")
        started = time.perf_counter()
        config = make_zone_dir(root / "zone", rows=args.rows)
        build_s = time.perf_counter() - started
        lift_zone_cap(config)
        token = add_principal(config, "bench", epsilon=1e6, per_job_epsilon=1.0)
        store = root / "zone" / "datasets.duckdb"  # the dataset store (a directory of versions)
        db_path = list_datasets(store)[0].path  # the version file
        (root / "zone" / "enterprises.csv").unlink()  # the import copied it into DuckDB

        sn_csv = root / "districts.csv"
        with duckdb.connect(str(db_path), read_only=True) as con:
            exact = {
                str(k): int(v)
                for k, v in con.execute(
                    f"SELECT district, count(*) FROM {table_name(DATASET)} GROUP BY district"
                ).fetchall()
            }
            con.execute(f"COPY (SELECT district FROM {table_name(DATASET)}) TO '{sn_csv}' (HEADER)")

        # Opened after the export: one process cannot hold the file under two DuckDB configs.
        catalog = DatasetCatalog.open(store)
        meta = catalog.get(DATASET).meta
        districts = tuple(str(v) for v in meta.columns["district"].domain or ())
        product = load_products(root / "zone" / "models", {DATASET: meta})[PRODUCT]
        assert isinstance(product, StatisticsProduct)

        if setup is not None:
            log("waiting for the SmartNoise venv (before any timing)")
            setup.wait()
        zone, target = start_zone(config)
        try:
            log(f"zone serving on {target}; latency phase, {args.queries} rounds")
            foreign = ForeignCpu([zone.pid])
            zone_path = ZonePath(target, token)
            inproc = InProcessPath(catalog, product)
            plain = PlainPath(db_path, districts)
            paths: dict[str, Callable[[], None]] = {
                "zone": zone_path, "in_process": inproc, "plain": plain,
            }  # fmt: skip
            for _ in range(3):  # warm-up: connections, caches, DuckDB buffers
                for call in paths.values():
                    call()
            for p in (zone_path, inproc, plain):
                p.releases.clear()
            times = run_interleaved(paths, args.queries, args.latency_max_seconds)
            latency = {name: latency_summary(t) for name, t in times.items()}
            zone_median = latency["zone"]["median_ms"]
            ratios = {
                "zone_over_in_process": zone_median / latency["in_process"]["median_ms"],
                "zone_over_plain": zone_median / latency["plain"]["median_ms"],
                "in_process_over_plain": (
                    latency["in_process"]["median_ms"] / latency["plain"]["median_ms"]
                ),
                "zone_over_in_process_95ci": ratio_interval(times["zone"], times["in_process"]),
            }
            scales = sorted(zone_path.scales)
            scale = scales[0] if len(scales) == 1 else math.nan
            theory_sd = discrete_laplace_sd(scale)
            error = {
                name: error_summary(errors_against(p.releases, exact, districts))
                for name, p in (("zone", zone_path), ("in_process", inproc), ("plain", plain))
            }
            missing = sum(1 for r in zone_path.releases if set(r) != set(districts))
            zone_path.close()
            plain.close()

            log(f"ledger throughput, {args.threads} threads x {args.seconds:.0f} s")
            ledger = ledger_throughput(root / "ledger.sqlite", args.threads, args.seconds)
            log(f"gRPC Query throughput, {args.threads} clients x {args.seconds:.0f} s")
            rpc = grpc_throughput(target, token, args.threads, args.seconds)
            zone_peak_rss = rss_mb(zone.pid, "VmHWM")
            foreign_cores = foreign.cores()
        finally:
            stop_zone(zone)
            catalog.close()

        log("SmartNoise SQL peer")
        peer = smartnoise_peer(setup, sn_csv, args, exact, districts)

    report: dict[str, Any] = {
        "benchmark": "bench_statistics",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "opendp": _version("opendp"),
            "grpcio": grpc.__version__,
        },
        "foreign_cpu_cores": foreign_cores,
        "rows": args.rows,
        "query": "count by district, 16 declared keys, epsilon 1",
        "build_s": build_s,
        "latency": latency,
        "ratios": ratios,
        "zone_server_peak_rss_mb": zone_peak_rss,
        "error": {
            "noise_scale": scale,
            "theory_sd": theory_sd,
            "zone_rmse_over_theory": error["zone"]["rmse"] / theory_sd,
            "zone_releases_with_other_keys": missing,
            **error,
        },
        "ledger": ledger,
        "grpc_query": rpc,
        "smartnoise": peer,
        "goals": {
            **GOALS,
            "latency_ratio_met": ratios["zone_over_in_process"] <= GOALS["latency_ratio_max"],
            "reservations_met": ledger["reserve"]["per_s"] >= GOALS["reservations_per_s_min"],
        },
    }
    report["total_s"] = time.perf_counter() - run_started
    print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(finite_or_none(report), indent=2, allow_nan=False) + "\n")
    print(f"\nwritten: {args.out}  (whole run {report['total_s']:.0f} s)")
    return 0


def _version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


def print_report(r: dict[str, Any]) -> None:
    lat, ratios, err = r["latency"], r["ratios"], r["error"]
    m = r["machine"]
    print(
        f"\nDP statistics benchmark: {r['rows']:,} rows, {r['query']}"
        f"\n{m['cpus']} CPUs, Python {m['python']}, duckdb {m['duckdb']}, opendp {m['opendp']}, "
        f"grpcio {m['grpcio']}; data build (generate + import) {r['build_s']:.1f} s"
    )
    foreign = r["foreign_cpu_cores"]
    print(f"other processes on the machine during the timed phases: {foreign:.2f} cores busy")
    if foreign > 0.25:
        print("WARNING: the machine was busy with other work: timings are perturbed; rerun idle.")
    print("\nLatency (interleaved, same run)")
    print(f"  {'path':<50} {'n':>4} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
    labels = {
        "zone": "zone (SDK -> gRPC -> ledger -> DuckDB -> OpenDP)",
        "in_process": "in-process plan_query + execute",
        "plain": "plain DuckDB GROUP BY + OpenDP make_laplace",
    }
    for name, label in labels.items():
        s = lat[name]
        print(
            f"  {label:<50} {s['n']:>4} {s['median_ms']:>10.1f} {s['p90_ms']:>8.1f} "
            f"{s['min_ms']:>8.1f}"
        )
    goal = r["goals"]["latency_ratio_max"]
    met = "met" if r["goals"]["latency_ratio_met"] else "NOT met"
    low, high = ratios["zone_over_in_process_95ci"]
    print(
        f"  ratio of medians zone / in-process: {ratios['zone_over_in_process']:.3f} "
        f"(95% bootstrap {low:.2f}-{high:.2f}; goal <= {goal}: {met})\n"
        f"  zone / plain: {ratios['zone_over_plain']:.2f}; "
        f"in-process / plain: {ratios['in_process_over_plain']:.2f}"
    )
    print(f"  zone server peak RSS: {r['zone_server_peak_rss_mb']:.0f} MB")

    ledger, rpc = r["ledger"], r["grpc_query"]
    print(f"\nThroughput ({ledger['threads']} threads, {ledger['seconds']:.0f} s windows)")
    goal_r = r["goals"]["reservations_per_s_min"]
    met_r = "met" if r["goals"]["reservations_met"] else "NOT met"
    print(
        f"  ledger reservations (eps 0.001, durable):  {ledger['reserve']['per_s']:>8.0f}/s "
        f"(goal >= {goal_r:.0f}: {met_r}) errors {ledger['reserve']['errors'] or 0}"
    )
    print(
        f"  ledger reserve + release cycles:          {ledger['reserve_release']['per_s']:>8.0f}/s"
        f" errors {ledger['reserve_release']['errors'] or 0}"
    )
    print(
        f"  ledger consistent (spent == charges x 0.001): {ledger['consistent']} "
        f"({ledger['charges']} charges)"
    )
    print(
        f"  gRPC Query, {rpc['clients']} concurrent clients:      {rpc['per_s']:>8.1f}/s "
        f"errors {rpc['errors'] or 0}"
    )

    print("\nError of released counts against exact counts (DuckDB)")
    print(
        f"  discrete Laplace scale {err['noise_scale']:g}: theoretical SD "
        f"sqrt(2q)/(1-q) = {err['theory_sd']:.4f}"
    )
    for name in ("zone", "in_process", "plain"):
        e = err[name]
        print(
            f"  {name:<11} cells {e['n']:>6}  RMSE {e['rmse']:.4f}  bias {e['bias']:+.4f}  "
            f"max |err| {e['max_abs']:.0f}  RMSE / SD {e['rmse'] / err['theory_sd']:.3f} "
            f"+- {1.96 * e['rmse_se'] / err['theory_sd']:.3f} (95%)"
        )
    other = err["zone_releases_with_other_keys"]
    print(f"  zone releases whose keys differ from the 16 declared: {other}")

    sn = r["smartnoise"]
    print("\nPeer: SmartNoise SQL")
    if not sn["ok"]:
        print(f"  not run: {sn['why']}")
        return
    v = sn["versions"]
    print(
        f"  smartnoise-sql {v['smartnoise-sql']} (opendp {v['opendp']}, pandas {v['pandas']}), "
        f"pandas reader (in-memory SQLite), censor_dims {sn['censor_dims']}, "
        f"epsilon {sn['epsilon']:g}, delta {sn['delta']:g}"
    )
    cost = sn["privacy_cost"]
    print(
        f"  its own cost estimate: epsilon {cost[0]:g}, delta {cost[1]:.3g}; reader setup "
        f"{sn['setup_s']:.1f} s (+ CSV read {sn['read_csv_s']:.1f} s); peak RSS "
        f"{sn['peak_rss_mb']:.0f} MB"
    )
    sl, zl = sn["latency"], r["latency"]["zone"]
    print(
        f"  latency: n {sl['n']}, median {sl['median_ms']:.0f} ms, p90 {sl['p90_ms']:.0f} ms; "
        f"zone / SmartNoise median ratio {zl['median_ms'] / sl['median_ms']:.3f}"
    )
    se, ze = sn["error"], err["zone"]
    print(
        f"  error: SmartNoise RMSE {se['rmse']:.4f} bias {se['bias']:+.4f} (cells {se['n']}); "
        f"zone RMSE {ze['rmse']:.4f} bias {ze['bias']:+.4f}"
    )
    print(
        f"  districts released per query: {sn['districts_released_min']}-"
        f"{sn['districts_released_max']} of 16 declared; keys outside the declared list: "
        f"{sn['undeclared_keys_released'] or 'none'}"
    )
    if sn["installed_now"]:
        print(f"  (venv {SMARTNOISE_VENV.name} created in this run: {sn['install_s']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
