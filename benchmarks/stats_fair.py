"""Fair mode of bench_statistics.py: the zone end to end against plain DuckDB, same file, same run.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_statistics.py --mode fair --rows 10000000 \
        [--rounds 30] [--data var/bench/data-10m]

Measures, in interleaved rounds (the order rotates every round, so drift and other work on the
machine hit every path alike), after three warm-up rounds:

* count by district (16 declared keys, epsilon 1) and count + mean(employees) by district,
  each through the zone (SDK -> gRPC -> ledger -> DuckDB -> OpenDP -> receipt -> audit ->
  reply) and in-process (the zone's plan_query + execute on a cursor of the same file);
* the plain DuckDB GROUP BY computing the same aggregates without noise on the same file:
  ``count(*)``, and ``count(*), avg(employees)``; and the same with the zone's clamping
  (``count(*), sum(clamp(employees)), count(employees)``), the exact aggregates it computes.

Prints median, p10-p90 and min-max per path, ratios of medians with a 95 % bootstrap interval,
the load average before and after, the CPU other processes used during the rounds, and the
server's RSS (now and peak) after the rounds and again after ``--wide`` queries that read every
column the product offers (10 measures). The plain and in-process paths open the file with the
server's DuckDB settings (``duckdb:`` in the config, where the zone under test has them).

The zone under test is the ``zone`` package this interpreter imports (PYTHONPATH): the server
is started from that tree, so an older checkout is measured with the same script
(``PYTHONPATH=/path/to/old/tree python benchmarks/bench_statistics.py --mode fair``).
``--baseline-tree DIR`` starts a second server from another checkout on the same file (its own
ledger) and adds its gRPC paths to the same rounds: before and after, interleaved.
``--data DIR`` keeps the generated zone folder for the next run (same ``--rows``); its ledger
and audit state are reset at every start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bench_statistics as bench
import duckdb
from zonekit import add_principal, make_zone_dir

import zone
from zone.catalog import (
    DatasetCatalog,
    StatisticsProduct,
    list_datasets,
    load_products,
    table_name,
)
from zone.client import ZoneClient
from zone.client.health import wait_until_serving
from zone.client.stats import count, histogram, mean
from zone.config import load_config
from zone.products.statistics import Measure, StatsQuery, execute, plan_query

ZONE_TREE = Path(zone.__file__).resolve().parents[1]
TABLE = table_name(bench.DATASET)
PLAIN_SQL = {
    "count": f"SELECT district, count(*) FROM {TABLE} GROUP BY district",
    "mean": f"SELECT district, count(*), avg(employees) FROM {TABLE} GROUP BY district",
    "mean_clamped": (
        "SELECT district, count(*), sum(least(greatest(employees, 0), 5000)), count(employees) "
        f"FROM {TABLE} GROUP BY district"
    ),
}
RATIOS = (
    ("zone_count", "in_process_count"),
    ("zone_count", "plain_count"),
    ("in_process_count", "plain_count"),
    ("zone_mean", "plain_mean"),
    ("zone_mean", "plain_mean_clamped"),
    ("zone_mean", "in_process_mean"),
    ("in_process_mean", "plain_mean"),
)
GOALS = {
    "zone_count / in_process_count (1M rows)": 1.2,
    "zone_mean / plain_mean (10M and 50M rows)": 1.3,
}


def prepare_data(folder: Path, rows: int, copies: int = 1) -> tuple[Path, str]:
    """A zone folder with ``rows`` rows (reused when it has them), a fresh ledger and audit.

    With ``copies`` > 1, ``rows / copies`` rows are generated and imported, then the table is
    replicated in DuckDB with distinct entity keys (``uscc#copy``): the same distribution per
    district, minutes instead of the generator's ~14 s and ~235 bytes of memory per row.
    """
    marker = folder / "rows.txt"
    wanted = f"{rows} {copies} appended"
    if not (marker.exists() and marker.read_text().strip() == wanted):
        if folder.exists():
            shutil.rmtree(folder)
        bench.log(f"generating and importing {rows // copies:,} rows into {folder}")
        started = time.perf_counter()
        config = make_zone_dir(folder, rows=rows // copies)
        (folder / "enterprises.csv").unlink()  # the import copied it into DuckDB
        if copies > 1:
            replicate(list_datasets(folder / "datasets.duckdb")[0].path, copies)
        bench.lift_zone_cap(config)
        marker.write_text(f"{wanted}\n")
        bench.log(f"data built in {time.perf_counter() - started:.0f} s")
    for state in [*folder.glob("state.sqlite*"), *folder.glob("state-baseline.sqlite*")]:
        state.unlink()
    token = add_principal(folder / "zone.yaml", "bench", epsilon=1e9, per_job_epsilon=1.0)
    return folder / "zone.yaml", token


def replicate(db_path: Path, copies: int) -> None:
    """Replace the dataset table by ``copies`` copies of itself, with distinct entity keys.

    ``db_path`` is the served version file of the dataset store (benchmark data only: the
    version digest then no longer matches the rows, which nothing here checks).

    The copies are appended one after the other, each in the generated order, so the table's
    layout (runs, compression) is that of generated data, not ten neighbours per row.
    """
    bench.log(f"replicating the table {copies} times in DuckDB")
    copy = f"SELECT t.* REPLACE (t.uscc || '#' || ? AS uscc) FROM {TABLE} AS t"
    with duckdb.connect(str(db_path)) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE TABLE _bench_copies AS {copy}", [0])
        for c in range(1, copies):
            con.execute(f"INSERT INTO _bench_copies {copy}", [c])
        con.execute(f"DROP TABLE {TABLE}")
        con.execute(f"ALTER TABLE _bench_copies RENAME TO {TABLE}")
        con.execute(
            "UPDATE _zone_version SET row_count = row_count * ? WHERE name = ?",
            [copies, bench.DATASET],
        )
        con.execute("COMMIT")


def start_server(config: Path, tree: Path) -> tuple[subprocess.Popen[str], str]:
    """``zone serve`` from ``tree`` (not necessarily this script's checkout)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    server = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "serve",
         "--config", str(config), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True, cwd=tree, env=env,
    )  # fmt: skip
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line:
        server.wait(timeout=30)
        raise SystemExit(f"zone serve exited with {server.returncode} before listening")
    target = line.split()[-1]
    wait_until_serving(target, timeout=120)
    return server, target


def open_catalog(config: Path) -> DatasetCatalog:
    """The dataset file with the server's DuckDB settings, where this zone has them."""
    loaded = load_config(config)
    settings = getattr(loaded, "duckdb", None)
    if settings is None:
        return DatasetCatalog.open(loaded.datasets_db)
    return DatasetCatalog.open(
        loaded.datasets_db, memory_limit=settings.memory_limit, threads=settings.threads
    )


WIRE = {"count": [count()], "mean": [count(), mean("employees")]}
NUMERIC = (
    "founded_year", "registered_capital", "employees", "insured_staff", "tax_paid",
    "utility_arrears", "penalties",
)  # fmt: skip
# Every column the product offers, 10 measures: what a wide query costs and leaves in memory.
WIDE = [count(), *(mean(c) for c in NUMERIC), histogram("industry"), histogram("employees", 10)]


def through_zone(client: ZoneClient, kind: str) -> Callable[[], None]:
    def call() -> None:
        client.query_statistics(
            bench.PRODUCT, WIRE[kind], epsilon=bench.EPSILON, group_by=["district"]
        )

    return call


def paths(
    client: ZoneClient, catalog: DatasetCatalog, product: StatisticsProduct
) -> dict[str, Callable[[], None]]:
    meta = catalog.get(bench.DATASET).meta
    domain = {
        "count": (Measure("count"),),
        "mean": (Measure("count"), Measure("mean", "employees")),
    }

    def in_process(kind: str) -> Callable[[], None]:
        query = StatsQuery(
            product=bench.PRODUCT,
            measures=domain[kind],
            group_by=("district",),
            epsilon=bench.EPSILON,
        )

        def call() -> None:
            plan = plan_query(query, product, meta)
            cursor = catalog.cursor()
            try:
                execute(plan, cursor, TABLE)
            finally:
                cursor.close()

        return call

    def plain(sql: str) -> Callable[[], None]:
        def call() -> None:
            cursor = catalog.cursor()
            try:
                cursor.execute(sql).fetchall()
            finally:
                cursor.close()

        return call

    out: dict[str, Callable[[], None]] = {}
    for kind in ("count", "mean"):
        out[f"zone_{kind}"] = through_zone(client, kind)
        out[f"in_process_{kind}"] = in_process(kind)
    out.update({f"plain_{name}": plain(sql) for name, sql in PLAIN_SQL.items()})
    return out


def summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p10_ms": bench.quantile(ms, 0.1),
        "p90_ms": bench.quantile(ms, 0.9),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


def baseline_config(config: Path) -> Path:
    """A copy of ``config`` with a state database of its own, for the baseline server."""
    copy = config.with_name("zone-baseline.yaml")
    text = config.read_text().replace("state_db: state.sqlite", "state_db: state-baseline.sqlite")
    copy.write_text(text)
    return copy


def run(args: argparse.Namespace) -> int:
    folder = (args.data or Path(tempfile.mkdtemp(prefix="zone-bench-fair-")) / "zone").resolve()
    config, token = prepare_data(folder, args.rows, args.copies)
    load_before = os.getloadavg()
    catalog = open_catalog(config)
    meta = catalog.get(bench.DATASET).meta
    product = load_products(folder / "models", {bench.DATASET: meta})[bench.PRODUCT]
    assert isinstance(product, StatisticsProduct)
    servers = {"zone": start_server(config, ZONE_TREE)}
    clients = []
    try:
        if args.baseline_tree:
            tree = args.baseline_tree.resolve()
            servers["baseline"] = start_server(baseline_config(config), tree)
        clients = [ZoneClient(target, token=token, timeout=120) for _, target in servers.values()]
        calls = paths(clients[0], catalog, product)
        if args.baseline_tree:
            calls.update({f"baseline_zone_{k}": through_zone(clients[1], k) for k in WIRE})
        for _ in range(3):  # warm-up: connections, caches, DuckDB buffers
            for call in calls.values():
                call()
        foreign = bench.ForeignCpu([server.pid for server, _ in servers.values()])
        bench.log(f"{args.rounds} interleaved rounds of {len(calls)} paths")
        times = bench.run_interleaved(calls, args.rounds, args.max_seconds)
        foreign_cores = foreign.cores()
        rss = {
            name: {"now_mb": bench.rss_mb(s.pid, "VmRSS"), "peak_mb": bench.rss_mb(s.pid)}
            for name, (s, _) in servers.items()
        }
        wide = wide_phase(dict(zip(servers, clients, strict=True)), servers, args.wide)
    finally:
        for client in clients:
            client.close()
        for server, _ in servers.values():
            bench.stop_zone(server)
        catalog.close()
        if args.data is None:
            shutil.rmtree(folder.parent, ignore_errors=True)
    report = build_report(args, times, foreign_cores, rss, load_before, os.getloadavg())
    report["wide_query"] = wide
    print_report(report)
    out = args.out or bench.REPO / "var" / "bench" / f"statistics_fair_{args.rows}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(bench.finite_or_none(report), indent=2, allow_nan=False) + "\n")
    print(f"\nwritten: {out}")
    return 0


def wide_phase(
    clients: dict[str, ZoneClient],
    servers: dict[str, tuple[subprocess.Popen[str], str]],
    calls: int,
) -> dict[str, Any]:
    """``calls`` wide queries (every offered column) per server, alternating; then each RSS."""
    seconds: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(calls):
        for name, client in clients.items():
            started = time.perf_counter()
            client.query_statistics(
                bench.PRODUCT, WIDE, epsilon=bench.EPSILON, group_by=["district"]
            )
            seconds[name].append(time.perf_counter() - started)
    return {
        name: {
            "seconds": seconds[name],
            "rss_now_mb": bench.rss_mb(server.pid, "VmRSS"),
            "rss_peak_mb": bench.rss_mb(server.pid),
        }
        for name, (server, _) in servers.items()
    }


def build_report(
    args: argparse.Namespace,
    times: dict[str, list[float]],
    foreign_cores: float,
    rss: dict[str, float],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    latency = {name: summary(t) for name, t in times.items()}
    ratios = {}
    pairs = list(RATIOS)
    if "baseline_zone_mean" in times:
        pairs += [
            ("baseline_zone_count", "plain_count"),
            ("baseline_zone_mean", "plain_mean"),
            ("zone_count", "baseline_zone_count"),
            ("zone_mean", "baseline_zone_mean"),
        ]
    for top, bottom in pairs:
        low, high = bench.ratio_interval(times[top], times[bottom])
        value = latency[top]["median_ms"] / latency[bottom]["median_ms"]
        ratios[f"{top} / {bottom}"] = {"ratio": value, "ci95": [low, high]}
    return {
        "benchmark": "bench_statistics --mode fair",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "zone_tree": str(ZONE_TREE),
        "zone_commit": _commit(ZONE_TREE),
        "baseline_tree": str(args.baseline_tree) if args.baseline_tree else None,
        "baseline_commit": _commit(args.baseline_tree) if args.baseline_tree else None,
        "rows": args.rows,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "duckdb": duckdb.__version__,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "foreign_cpu_cores": foreign_cores,
        "latency": latency,
        "ratios": ratios,
        "server_rss_mb": rss,
        "goals": GOALS,
    }


def _commit(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def print_report(r: dict[str, Any]) -> None:
    print(
        f"\nDP statistics, fair mode: {r['rows']:,} rows, {r['rounds']} interleaved rounds, "
        f"zone {r['zone_commit']} ({r['zone_tree']}), duckdb {r['duckdb']}, {r['cpus']} CPUs"
    )
    before, after = r["load_average_before"], r["load_average_after"]
    print(
        f"load average before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, after "
        f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f}; other processes used "
        f"{r['foreign_cpu_cores']:.2f} cores during the rounds"
    )
    print(f"\n  {'path':<22} {'median ms':>10} {'p10-p90 ms':>16} {'min-max ms':>18}")
    for name, s in r["latency"].items():
        spread = f"{s['p10_ms']:.1f}-{s['p90_ms']:.1f}"
        extent = f"{s['min_ms']:.1f}-{s['max_ms']:.1f}"
        print(f"  {name:<22} {s['median_ms']:>10.1f} {spread:>16} {extent:>18}")
    print("\n  ratio of medians (95% bootstrap over rounds)")
    for name, value in r["ratios"].items():
        low, high = value["ci95"]
        print(f"  {name:<42} {value['ratio']:>6.2f}  ({low:.2f}-{high:.2f})")
    print("  goals (reported, not asserted): " + "; ".join(f"{k} <= {v}" for k, v in GOALS.items()))
    if r["baseline_tree"]:
        print(f"  baseline_zone_*: zone {r['baseline_commit']} ({r['baseline_tree']})")
    for name, rss in r["server_rss_mb"].items():
        now, peak = rss["now_mb"], rss["peak_mb"]
        print(f"  {name} server RSS after the rounds: {now:.0f} MB (peak {peak:.0f} MB)")
    for name, w in r["wide_query"].items():
        runs = ", ".join(f"{t * 1000:.0f}" for t in w["seconds"])
        print(
            f"  {name}: wide query (count, 7 means, 2 histograms by district) {runs} ms; "
            f"RSS after {w['rss_now_mb']:.0f} MB (peak {w['rss_peak_mb']:.0f} MB)"
        )
