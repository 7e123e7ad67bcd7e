"""Statistics Query throughput: one and two `zone serve` replicas on one PostgreSQL, SQLite beside.

Starts a throwaway PostgreSQL 15 cluster with fsync ON (tests/pgkit.py, as in production) and,
each in its own process, on one demo zone folder (one DuckDB dataset file, one policy set):

* two `zone serve` replicas whose ``state_db`` is the cluster (one database, shared);
* one `zone serve` on a SQLite state file (WAL, synchronous=FULL): the embedded default,
  the reference.

Then ``--threads`` gRPC client threads (in this process, one channel each) call
``StatisticsService.Query`` (a DP count of the enterprises, epsilon 0.01, one principal with
a budget that never runs out) for ``--seconds``: all of them at the SQLite zone, all of them
at replica 1, and split evenly over replicas 1 and 2: the same total client threads each
time. Each of ``--rounds`` rounds measures the three in a rotating order, so that a change
in the machine's load hits them alike. Prints calls/s (median of the rounds, range), the
per-round ratios, the load average of each round, and the processes and cores used.

Every call is a full release: authorize, reserve the budget (one PostgreSQL or SQLite write
transaction), run DuckDB + OpenDP, release durably (a second write transaction with the
receipt), plus the call's ``rpc`` audit record (grouped). On PostgreSQL every write of every
replica takes the one chain lock, so writes are serialized across replicas.

    .venv/bin/python benchmarks/bench_replicas.py [--seconds 4] [--rounds 3] [--threads 8]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from pgkit import running_cluster  # noqa: E402
from zonekit import add_principal, make_zone_dir  # noqa: E402

import zone  # noqa: E402
from zone.client import ZoneClient  # noqa: E402
from zone.client.health import wait_until_serving  # noqa: E402
from zone.client.stats import count  # noqa: E402

PRODUCT = "enterprise-stats"


@contextmanager
def serving(config: Path) -> Iterator[str]:
    """`zone serve` on ``config`` in a child process until the block ends: its address."""
    code = str(Path(zone.__file__).resolve().parents[1])  # the servers run this process's zone
    proc = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "serve",
         "--config", str(config), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=config.parent,
        env={**os.environ, "PYTHONPATH": code},
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line.startswith("zone: serving on"):
            raise RuntimeError(f"zone serve did not start: {line!r}")
        address = line.split()[-1]
        wait_until_serving(address, timeout=60)
        yield address
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        proc.stdout.close()


def drive(addresses: list[str], token: str, threads: int, seconds: float) -> tuple[float, int]:
    """Query calls/s from ``threads`` threads spread evenly over ``addresses``; and errors."""
    counts, errors = [0] * threads, [0] * threads
    stop = threading.Event()
    ready = threading.Barrier(threads + 1)

    def worker(i: int) -> None:
        with ZoneClient(addresses[i % len(addresses)], token=token, timeout=60) as client:
            client.query_statistics(PRODUCT, [count()], epsilon=0.01)  # warm the channel
            ready.wait()
            while not stop.is_set():
                try:
                    client.query_statistics(PRODUCT, [count()], epsilon=0.01)
                    counts[i] += 1
                except Exception:  # noqa: BLE001 - counted and reported, never hidden
                    errors[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    ready.wait()
    start_counts, start = sum(counts), time.perf_counter()
    time.sleep(seconds)
    done, elapsed = sum(counts) - start_counts, time.perf_counter() - start
    stop.set()
    for t in pool:
        t.join()
    return done / elapsed, sum(errors)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per figure and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8, help="client threads, in total")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the dataset")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, running_cluster(fsync=True) as cluster:
        url = cluster.create_database("zone")
        config = make_zone_dir(Path(tmp) / "zone", rows=args.rows, state_db=url)
        sqlite_config = config.with_name("zone-sqlite.yaml")
        sqlite_config.write_text(config.read_text().replace(url, "state.sqlite"))
        token = add_principal(config, "bench", epsilon=1e9)
        with ExitStack() as stack:
            pg = [stack.enter_context(serving(config)) for _ in range(2)]
            lite = stack.enter_context(serving(sqlite_config))
            figures: dict[str, Callable[[], tuple[float, int]]] = {
                "sqlite, 1 process": lambda: drive([lite], token, args.threads, args.seconds),
                "postgresql, 1 replica": lambda: drive(pg[:1], token, args.threads, args.seconds),
                "postgresql, 2 replicas": lambda: drive(pg, token, args.threads, args.seconds),
            }
            print(f"zone code from {Path(zone.__file__).parent}")
            print(f"cores: {os.cpu_count()}; processes: PostgreSQL 15 (fsync on, one backend "
                  f"per connection), 2 zone replicas + 1 SQLite zone (idle when not driven), "
                  f"this client ({args.threads} threads); {args.rows:,}-row dataset; "
                  f"{args.seconds:g} s per figure and round")  # fmt: skip
            rates: dict[str, list[float]] = {name: [] for name in figures}
            errors = 0
            names = list(figures)
            for r in range(args.rounds):
                print(f"round {r + 1}: load average {_load()}", flush=True)
                for name in names[r % 3 :] + names[: r % 3]:
                    rate, failed = figures[name]()
                    rates[name].append(rate)
                    errors += failed
    report(rates, errors)
    return 0


def report(rates: dict[str, list[float]], errors: int) -> None:
    """Medians with their range, and the per-round ratios that matter."""
    print(f"{'Query calls/s':<24}{'median':>8}{'min-max':>14}")
    for name, got in rates.items():
        print(f"{name:<24}{statistics.median(got):>8.1f}{min(got):>7.1f}-{max(got):<6.1f}")
    one, two, lite = (rates[n] for n in ("postgresql, 1 replica", "postgresql, 2 replicas",
                                          "sqlite, 1 process"))  # fmt: skip
    for label, a, b in (("2 replicas / 1 replica", two, one), ("1 replica / sqlite", one, lite)):
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        print(f"{label:<24}{statistics.median(ratios):>8.2f}"
              f"{min(ratios):>7.2f}-{max(ratios):<6.2f}")  # fmt: skip
    print(f"failed calls: {errors}; load average after: {_load()}")


if __name__ == "__main__":
    sys.exit(main())
