"""What the durable touched mark adds to each job on a ``zone worker`` (a report).

Before its first read, a job's child opens a one-connection pool on the state database, marks
the job (``JobStore.confirm_touched``: one conditional UPDATE and its audit record, committed)
and closes the pool (``zone.worker.child.confirm_touched``). This measures that call against
the raw library doing the least the same guarantee needs: ``psycopg.connect``, the same
conditional UPDATE, commit, close (no audit record). Interleaved: each repetition marks one
fresh RUNNING job each way, the order alternating. Printed: the medians, their ratio, the
spread, and the load average before and after. The figure to compare it with is a job's wall
time (seconds: see ``bench_workers.py``).

    .venv/bin/python benchmarks/bench_touch_mark.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import psycopg  # noqa: E402
from pgkit import running_cluster  # noqa: E402

from zone.audit import AuditChain  # noqa: E402
from zone.jobs import JobState, JobStore  # noqa: E402
from zone.state.location import PoolOptions  # noqa: E402
from zone.state.postgres import PostgresState  # noqa: E402
from zone.worker.child import confirm_touched  # noqa: E402


def raw_mark(url: str, job_id: str) -> None:
    """The raw library's least: connect, the conditional UPDATE, commit, close."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE jobs SET touched_data = 1 WHERE job_id = %s AND state = 'running' "
            "AND touched_data = 0",
            (job_id,),
        )


def main() -> None:
    """Run the comparison and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()}")
    with running_cluster(fsync=True) as pg:
        url = pg.create_database("bench")
        store = PostgresState.open(url, PoolOptions(min_connections=1, max_connections=2))
        jobs = JobStore(store, AuditChain(store))

        def running_job() -> str:
            job = jobs.create(
                principal="p", product="x", dataset="d", spec={"epsilon": 1.0}, release_id=""
            )
            jobs.transition(job.job_id, JobState.RUNNING)
            return job.job_id

        zone_s: list[float] = []
        raw_s: list[float] = []
        for i in range(args.repeats):
            sides = [("zone", zone_s), ("raw", raw_s)]
            for name, times in sides if i % 2 == 0 else reversed(sides):
                job_id = running_job()
                start = time.perf_counter()
                if name == "zone":
                    confirm_touched(url, job_id)
                else:
                    raw_mark(url, job_id)
                times.append(time.perf_counter() - start)
                assert jobs.get(job_id).touched_data
        store.close()
    zone_med, raw_med = statistics.median(zone_s), statistics.median(raw_s)
    ratios = sorted(z / r for z, r in zip(zone_s, raw_s, strict=True))
    print(f"repetitions: {args.repeats} (fsync on)")
    print(f"zone confirm_touched: median {zone_med * 1000:.2f} ms")
    print(f"raw psycopg mark:     median {raw_med * 1000:.2f} ms")
    print(f"ratio of the medians: {zone_med / raw_med:.2f}")
    low, high = ratios[len(ratios) // 10], ratios[(9 * len(ratios)) // 10]
    print(f"per-pair ratios: median {statistics.median(ratios):.2f}, 10-90%: {low:.2f}-{high:.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
