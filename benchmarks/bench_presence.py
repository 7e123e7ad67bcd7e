"""What a replica's presence costs: the fence on every write, the round's check, the rejoin.

Starts a throwaway PostgreSQL 15 cluster (tests/pgkit.py, fsync off: these are round trips,
not flushes). In the same run, interleaved round by round:

* write: an empty ``PostgresState.write(durable=False)`` on a replica that holds its place
  (every write first asks ``Presence.retry()``) vs the same transaction (BEGIN, the write
  lock, COMMIT) through a bare psycopg connection, and vs the same ``write()`` of a state
  that never joined (no presence to ask: the fence's own cost);
* check: one round's ``hold_place()`` (``SELECT 1`` on the presence session) vs a bare
  ``SELECT 1``;
* rejoin: the presence session terminated (``pg_terminate_backend``), then ``hold_place()``
  until the place is back (a new session, its id's lock, the shared replica lock) vs a bare
  ``psycopg.connect``.

Prints the median time of each and the ratio to the bare library, the spread over rounds,
and the load average before and after.

    .venv/bin/python benchmarks/bench_presence.py [--rounds 7] [--writes 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import psycopg  # noqa: E402
from pgkit import running_cluster  # noqa: E402

from zone.state.location import PoolOptions  # noqa: E402
from zone.state.postgres import WRITE_LOCK, PostgresState  # noqa: E402
from zone.state.presence import application_name  # noqa: E402


def timed(fn: Callable[[], None], n: int) -> float:
    """Seconds per call of ``fn`` over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def load() -> str:
    """The load averages (1, 5, 15 minutes)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args(argv)
    print(f"load average before: {load()} (2 cores)")
    with running_cluster() as cluster:
        url = cluster.create_database()
        options = PoolOptions(min_connections=1, max_connections=2)
        with (
            PostgresState.open(url, options) as state,
            PostgresState.open(url, options) as unjoined,
            psycopg.connect(url) as raw,
        ):
            raw.autocommit = True
            with state.startup():
                pass
            admin = psycopg.connect(url, autocommit=True)

            def zone_write() -> None:
                with state.write(durable=False):
                    pass

            def unjoined_write() -> None:  # the same wrapper, no presence to ask
                with unjoined.write(durable=False):
                    pass

            def raw_write() -> None:
                raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
                raw.execute("COMMIT")

            def rejoin() -> None:
                admin.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (application_name(state.replica),),
                )
                start = time.perf_counter()
                while not state.hold_place():
                    pass
                rejoins.append(time.perf_counter() - start)

            def connect() -> None:
                psycopg.connect(url).close()

            names = ("write", "write_vs_unjoined", "check", "rejoin")
            results: dict[str, list[float]] = {k: [] for k in names}
            for _ in range(args.rounds):
                rejoins: list[float] = []
                pairs = (
                    ("write", zone_write, raw_write, args.writes),
                    ("write_vs_unjoined", zone_write, unjoined_write, args.writes),
                    ("check", lambda: None if state.hold_place() else None,
                     lambda: raw.execute("SELECT 1").close(), args.writes),
                )  # fmt: skip
                for name, zone_fn, raw_fn, n in pairs:
                    zone_s, raw_s = timed(zone_fn, n), timed(raw_fn, n)
                    results[name].append(zone_s / raw_s)
                for _ in range(5):
                    rejoin()
                bare = timed(connect, 5)
                results["rejoin"].append(statistics.median(rejoins) / bare)
                print(f"  round: write x{results['write'][-1]:.2f} check "
                      f"x{results['check'][-1]:.2f} rejoin {statistics.median(rejoins) * 1e3:.1f}"
                      f" ms (connect {bare * 1e3:.1f} ms)")  # fmt: skip
            admin.close()
    for name, ratios in results.items():
        median, low, high = statistics.median(ratios), min(ratios), max(ratios)
        print(f"{name}: median ratio to the bare library {median:.2f} "
              f"(spread {low:.2f}-{high:.2f} over {args.rounds} rounds)")  # fmt: skip
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
