"""Before/after: reservations/s of two checkouts of the zone, interleaved in short slices.

On a shared 2-core machine the load swings within seconds, so two whole benchmark runs one
after the other cannot be compared. This starts one worker process per checkout (the same
``bench_state`` figures, each worker importing ``zone`` from its checkout), each on its own
database of one throwaway PostgreSQL 15 cluster (fsync on) or its own SQLite file, and has
them measure in turn, ``--slices`` times per figure, ``--seconds`` each, the order
alternating. Prints, per figure, each checkout's median reservations/s and the median of the
per-slice ratios after / before with their interquartile range, and the load average.

    .venv/bin/python benchmarks/ab_state.py BEFORE_CHECKOUT AFTER_CHECKOUT [--slices 8]
        [--seconds 1] [--backend postgresql|sqlite] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = ("raw  hot", "ledger hot   ", "desk   hot   ", "ledger spread", "desk   spread")


def worker(location: str, clients: int) -> None:
    """Answer ``FIGURE|SECONDS`` lines on stdin with reservations/s (run in a child process)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    import bench_state

    from zone.state.location import PoolOptions, PostgresUrl
    from zone.state.opening import open_state

    pool = PoolOptions(min_connections=clients, max_connections=64)
    if location.startswith("postgresql://"):
        state = open_state(PostgresUrl(location), pool)
        raw = bench_state.raw_postgres(location)
    else:
        state = open_state(Path(location), pool)
        raw = bench_state.raw_sqlite(Path(location).with_suffix(".raw"))
    runs = bench_state.figures(state, raw)
    print("ready", flush=True)
    for line in sys.stdin:
        name, seconds = line.rstrip("\n").split("|")
        print(f"{bench_state.drive(clients, float(seconds), runs[name]):.1f}", flush=True)
    state.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent / "tests"))
    from pgkit import running_cluster

    print(f"cores: {os.cpu_count()}, {args.clients} client threads per worker, {args.backend} "
          f"(fsync on), {args.slices} slices of {args.seconds:g} s per figure and checkout; "
          f"load average before: {os.getloadavg()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, running_cluster(fsync=True) as cluster:
        workers = []
        for i, checkout in enumerate((args.before, args.after)):
            location = (cluster.create_database(f"ab{i}") if args.backend == "postgresql"
                        else str(Path(tmp) / f"state{i}.sqlite"))  # fmt: skip
            proc = subprocess.Popen(
                [sys.executable, __file__, "--worker", location, str(args.clients)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp,
                env={**os.environ, "PYTHONPATH": str(checkout.resolve())},
            )  # fmt: skip
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            workers.append(proc)
        try:
            rates: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in FIGURES}
            for name in FIGURES:
                for s in range(args.slices):
                    for w in (0, 1) if s % 2 == 0 else (1, 0):
                        stdin, stdout = workers[w].stdin, workers[w].stdout
                        assert stdin is not None and stdout is not None
                        stdin.write(f"{name}|{args.seconds}\n")
                        stdin.flush()
                        rates[name][w].append(float(stdout.readline()))
        finally:
            for proc in workers:
                if proc.stdin is not None:
                    proc.stdin.close()
                proc.wait(timeout=60)
    print(f"{'reservations/s':<15}{'before':>8}{'after':>8}{'after/before':>14}{'IQR':>13}")
    for name, (before, after) in rates.items():
        ratios = sorted(a / b for a, b in zip(after, before, strict=True))
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        print(f"{name:<15}{statistics.median(before):>8.0f}{statistics.median(after):>8.0f}"
              f"{statistics.median(ratios):>14.2f}{q1:>7.2f}-{q3:<5.2f}")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        main()
