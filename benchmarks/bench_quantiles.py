"""DP quantiles: time and memory of the zone's execute against another checkout's, same file.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_quantiles.py --rows 10000000 \
        --baseline-tree /path/to/older/checkout [--rounds 5] [--data var/bench/data-10m]

Each round runs, in rotating order, one fresh process per tree (this checkout and the
baseline) that opens the dataset file with the zone's DuckDB settings, plans the query (the
median and 90th percentile of registered capital, and the median of employees, by district;
epsilon 1) and runs ``execute`` three times; it reports the time per query and its peak RSS
(VmHWM) minus the RSS before the first query (the transient memory of a quantile). And plain
DuckDB ``quantile_disc`` on the same file (exact, no noise) as the library reference (opened
with an 8GB limit: it cannot run under the zone's 192MB default at 10M rows). Prints
medians and spreads over rounds, ratios, and the load average before and after.

The data is generated as by ``--mode fair`` of bench_statistics.py (``--copies`` replicates a
generated table in DuckDB); ``--data`` keeps it for the next run, else it is deleted.
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from stats_fair import open_catalog
from zone.catalog import load_products, table_name
from zone.products.statistics import Measure, StatsQuery, execute, plan_query

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")

config = Path(sys.argv[1])
catalog = open_catalog(config)
meta = catalog.get("enterprises").meta
product = load_products(config.parent / "models", {"enterprises": meta})["enterprise-stats"]
query = StatsQuery(
    product="enterprise-stats",
    measures=(
        Measure("quantile", "registered_capital", quantiles=(0.5, 0.9)),
        Measure("quantile", "employees", quantiles=(0.5,)),
    ),
    group_by=("district",),
    epsilon=1.0,
)
plan = plan_query(query, product, meta)
before = rss("VmRSS")
times = []
for _ in range(3):
    cursor = catalog.cursor()
    started = time.perf_counter()
    execute(plan, cursor, table_name("enterprises"))
    times.append(time.perf_counter() - started)
    cursor.close()
print(json.dumps({"times": times, "transient_mb": rss("VmHWM") - before, "rss_mb": rss("VmRSS")}))
"""

PLAIN = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from zone.catalog import DatasetCatalog
from zone.config import load_config
config = Path(sys.argv[1])
# quantile_disc holds every value of its group in memory and cannot spill: the zone's 192MB
# limit refuses it at 10M rows (Out of Memory), so the reference runs without the limit.
catalog = DatasetCatalog.open(load_config(config).datasets_db, memory_limit="8GB")

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")

sql = ("SELECT district, quantile_disc(registered_capital, 0.5), "
       "quantile_disc(registered_capital, 0.9), quantile_disc(employees, 0.5) "
       'FROM "ds_enterprises" GROUP BY district')
before = rss("VmRSS")
times = []
for _ in range(3):
    cursor = catalog.cursor()
    started = time.perf_counter()
    cursor.execute(sql).fetchall()
    times.append(time.perf_counter() - started)
    cursor.close()
print(json.dumps({"times": times, "transient_mb": rss("VmHWM") - before, "rss_mb": rss("VmRSS")}))
"""


def run_child(code: str, tree: Path, config: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(config), str(REPO / "benchmarks")],
        capture_output=True, text=True, env=env, cwd=tree, timeout=1200,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"child failed ({tree}): {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-tree", type=Path, required=True)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import stats_fair

    tmp = None if args.data else tempfile.mkdtemp(prefix="zone-bench-quantiles-")
    folder = args.data or Path(str(tmp)) / "zone"
    try:
        config, _ = stats_fair.prepare_data(folder, args.rows, args.copies)
        paths = {
            "zone": (CHILD, REPO),
            "baseline": (CHILD, args.baseline_tree.resolve()),
            "plain_duckdb": (PLAIN, REPO),
        }
        load_before = os.getloadavg()
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
        names = list(paths)
        for i in range(args.rounds):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                code, tree = paths[name]
                results[name].append(run_child(code, tree, config))
            print(f"round {i + 1}/{args.rounds}, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        load_after = os.getloadavg()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    report = summarize(args, results, load_before, load_after)
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def summarize(
    args: argparse.Namespace,
    results: dict[str, list[dict[str, Any]]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    paths = {}
    for name, runs in results.items():
        # the first query of each process warms DuckDB's buffers; later ones are the figure
        ms = [t * 1000 for r in runs for t in r["times"][1:]]
        transient = [r["transient_mb"] for r in runs]
        paths[name] = {
            "median_ms": statistics.median(ms),
            "min_ms": min(ms),
            "max_ms": max(ms),
            "transient_mb_median": statistics.median(transient),
            "transient_mb_max": max(transient),
            "rss_mb_median": statistics.median(r["rss_mb"] for r in runs),
        }
    per_round = [
        statistics.median(z["times"][1:]) / statistics.median(b["times"][1:])
        for z, b in zip(results["zone"], results["baseline"], strict=True)
    ]
    return {
        "rows": args.rows,
        "rounds": args.rounds,
        "baseline_tree": str(args.baseline_tree),
        "load_before": load_before,
        "load_after": load_after,
        "paths": paths,
        "zone_over_baseline_time": paths["zone"]["median_ms"] / paths["baseline"]["median_ms"],
        "zone_over_baseline_per_round": per_round,
        "zone_over_plain_time": paths["zone"]["median_ms"] / paths["plain_duckdb"]["median_ms"],
    }


def print_report(r: dict[str, Any]) -> None:
    print(
        f"\nDP quantiles, {r['rows']:,} rows, {r['rounds']} interleaved rounds "
        f"(3 medians by district: 2 of registered_capital, 1 of employees)"
    )
    print(f"load average before {r['load_before']}, after {r['load_after']}")
    print(f"  {'path':<14} {'median ms':>10} {'min-max ms':>16} {'transient MB':>13} {'max':>6}")
    for name, p in r["paths"].items():
        print(
            f"  {name:<14} {p['median_ms']:>10.0f} {p['min_ms']:>7.0f}-{p['max_ms']:<8.0f} "
            f"{p['transient_mb_median']:>13.0f} {p['transient_mb_max']:>6.0f}"
        )
    spread = ", ".join(f"{v:.2f}" for v in r["zone_over_baseline_per_round"])
    print(
        f"  zone / baseline time {r['zone_over_baseline_time']:.2f} (per round: {spread}); "
        f"zone / plain DuckDB quantile_disc {r['zone_over_plain_time']:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
