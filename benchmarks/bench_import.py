"""Dataset import: the zone's validated import against DuckDB's own load of the same file.

For each size and format, on the same file in the same run, each in a fresh process (so that
peak RSS is the job's own):

- plain: ``CREATE TABLE t AS SELECT * FROM read_csv(?)`` (or ``read_parquet``) into a new
  DuckDB file, DuckDB's defaults (type auto-detection, memory limit 80% of RAM);
- zone: ``zone.catalog.import_dataset`` (content digest, every value checked against the
  metadata, quality report, key uniqueness, version file, manifest).

Prints rows/s, seconds, the zone/plain ratio (goal <= 1.5) and peak RSS (goal <= 1 GiB at 50M
rows), with the load average before every measurement: this machine is shared, and a busy
neighbour slows either side. The CPU seconds of each load (all its threads) are printed too:
on a crowded machine their ratio varies far less than the wall-clock one. With ``--baseline
DIR`` (another checkout of the zone, e.g. the main branch) its import runs too, interleaved
with the other two on the same file, and the ``base_*`` columns compare it: a before/after
figure under the same load.

    python benchmarks/bench_import.py --rows 1000000 10000000 [--formats csv parquet]
        [--repeats 3] [--work DIR] [--memory-limit 512MB] [--baseline DIR]
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
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
META = REPO / "examples" / "enterprises.meta.yaml"
DISTRICTS = ["Dongcheng", "Xicheng", "Nanhu", "Beishan", "Jiangbin", "Gaoxin", "Binhai",
             "Qingshan", "Longgang", "Huaxi", "Xinzhou", "Linhai", "Taiping", "Fengyang",
             "Yunling", "Shiqiao"]  # fmt: skip

# Synthetic rows inside the example metadata's domains and bounds (a clean import).
ROWS_SQL = """
SELECT printf('91%016d', i) AS uscc,
       (?::VARCHAR[])[CAST(1 + h(i) % 16 AS BIGINT)] AS district,
       chr(CAST(65 + h(i + 1) % 20 AS INTEGER)) AS industry,
       1980 + h(i + 2) % 46 AS founded_year,
       round((h(i + 3) % 10000000) / 100.0, 2) AS registered_capital,
       h(i + 4) % 5001 AS employees,
       h(i + 5) % 5001 AS insured_staff,
       round((h(i + 6) % 5000000) / 100.0, 2) AS tax_paid,
       round((h(i + 7) % 50000) / 100.0, 2) AS utility_arrears,
       h(i + 8) % 21 AS penalties,
       printf('3399%014d', h(i + 9) % 100000000000000) AS legal_rep_id,
       h(i + 10) % 2 AS default_flag
FROM range(?) t(i)
"""

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import duckdb
mode, source, target, memory_limit = sys.argv[1:5]
if mode == "zone":
    from zone.catalog import import_dataset, load_metadata
    meta = load_metadata(Path(sys.argv[5]))
started = time.perf_counter()  # the load itself: module imports are not timed
cpu_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
if mode == "plain":
    reader = "read_csv" if source.endswith(".csv") else "read_parquet"
    con = duckdb.connect(target)
    con.execute("SET enable_progress_bar = false")  # as the zone's import
    con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}(?)", [source])
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
else:
    result = import_dataset(Path(target), Path(source), "enterprises", meta,
                            memory_limit=memory_limit)
    rows = result.info.row_count
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu_before
peak = usage.ru_maxrss * 1024
print(json.dumps({"rows": rows, "seconds": seconds, "cpu": cpu, "peak_rss": peak}))
"""


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def generate(work: Path, rows: int, fmt: str) -> Path:
    path = work / f"enterprises-{rows}.{fmt}"
    if not path.exists():
        started = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        con.execute("CREATE MACRO h(x) AS CAST(hash(x) % 1000000000000000 AS BIGINT)")
        option = "(HEADER)" if fmt == "csv" else "(FORMAT parquet)"
        con.execute(f"COPY ({ROWS_SQL}) TO '{path}' {option}", [DISTRICTS, rows])
        con.close()
        print(f"# wrote {path.name}: {path.stat().st_size / 2**20:,.0f} MiB in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    return path


def run(
    mode: str, source: Path, work: Path, memory_limit: str, baseline: Path | None = None
) -> dict[str, float]:
    target = work / f"target-{mode}"
    shutil.rmtree(target, ignore_errors=True)
    for leftover in work.glob(f"target-{mode}*"):
        leftover.unlink()
    if mode == "plain":
        target = work / f"target-{mode}.duckdb"
    env = {**os.environ, "PYTHONPATH": str(baseline if mode == "base" and baseline else REPO)}
    child_mode = "zone" if mode == "base" else mode
    done = subprocess.run(
        [sys.executable, "-c", CHILD, child_mode, str(source), str(target), memory_limit,
         str(META)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{mode} on {source.name} failed:\n{done.stderr[-3000:]}")
    shutil.rmtree(work / f"target-{mode}", ignore_errors=True)
    for leftover in work.glob(f"target-{mode}*"):
        leftover.unlink()
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, help="folder for the files (default: a temp dir)")
    parser.add_argument("--memory-limit", default="512MB", help="DuckDB limit for the zone")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--baseline", type=Path, help="another zone checkout to compare with")
    args = parser.parse_args(argv)
    modes = ["plain", "zone"] + (["base"] if args.baseline else [])
    work = args.work or Path(tempfile.mkdtemp(prefix="zone-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# {os.cpu_count()} cores; load average {load_average()}; duckdb {duckdb.__version__}")
    print("rows,format,plain_s,zone_s,ratio,plain_rows_per_s,zone_rows_per_s,"
          "plain_peak_rss_mib,zone_peak_rss_mib,load_average,plain_cpu_s,zone_cpu_s,cpu_ratio"
          + (",base_s,base_ratio,base_peak_rss_mib,zone_s_runs,base_s_runs,plain_s_runs,"
             "base_cpu_s,base_cpu_ratio"
             if args.baseline else ""))  # fmt: skip
    try:
        for rows in args.rows:
            for fmt in args.formats:
                source = generate(work, rows, fmt)
                times: dict[str, list[float]] = {mode: [] for mode in modes}
                cpus: dict[str, list[float]] = {mode: [] for mode in modes}
                peaks: dict[str, float] = dict.fromkeys(modes, 0.0)
                loads = []
                for repeat in range(args.repeats):
                    order = modes if repeat % 2 == 0 else modes[::-1]
                    for mode in order:
                        loads.append(load_average().split()[0])
                        result = run(mode, source, work, args.memory_limit, args.baseline)
                        assert int(result["rows"]) == rows, result
                        times[mode].append(result["seconds"])
                        cpus[mode].append(result["cpu"])
                        peaks[mode] = max(peaks[mode], result["peak_rss"])
                plain, zone = statistics.median(times["plain"]), statistics.median(times["zone"])
                line = (f"{rows},{fmt},{plain:.2f},{zone:.2f},{zone / plain:.2f},"
                        f"{rows / plain:.0f},{rows / zone:.0f},{peaks['plain'] / 2**20:.0f},"
                        f"{peaks['zone'] / 2**20:.0f},{'/'.join(loads)}")  # fmt: skip
                cpu = {mode: statistics.median(cpus[mode]) for mode in modes}
                line += f",{cpu['plain']:.2f},{cpu['zone']:.2f},{cpu['zone'] / cpu['plain']:.2f}"
                if args.baseline:
                    base = statistics.median(times["base"])
                    runs = [
                        "/".join(f"{t:.2f}" for t in times[m]) for m in ("zone", "base", "plain")
                    ]
                    line += (f",{base:.2f},{base / plain:.2f},{peaks['base'] / 2**20:.0f},"
                             + ",".join(runs)
                             + f",{cpu['base']:.2f},{cpu['base'] / cpu['plain']:.2f}")  # fmt: skip
                print(line, flush=True)
                if not args.keep:
                    source.unlink()
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"# done; load average {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
