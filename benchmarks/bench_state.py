"""Reservations per second on the SQLite and the PostgreSQL state backends, same run, same disk.

Starts a throwaway PostgreSQL 15 cluster with fsync ON (tests/pgkit.py; a production setting,
unlike the test suite's), and a SQLite file (WAL, synchronous=FULL) in the same temporary
directory tree. For each backend, ``--clients`` threads of this one process reserve at once
for ``--seconds``:

* raw: the bare conditional UPDATE of one budget row in its own durable transaction, through
  the driver (sqlite3 / psycopg) -- the library's own speed, for the ratio;
* ledger: ``PrivacyLedger.reserve`` (budget + dataset cap + charge row + audit entry);
* desk: ``ReleaseDesk.reserve`` (the above + call quota + price + usage + its audit entry),
  what a statistics query commits before any noise is drawn.

"hot": every client draws on one principal's budget (one row); "spread": one principal per
client. Both backends are open at once and measured interleaved: each of ``--rounds`` rounds
runs every figure once, SQLite then PostgreSQL, so that a load change on this shared machine
hits both alike. Prints the median reservations/s of the rounds with their range, the
median of the per-round ratios to raw, and the load average of each round.

    .venv/bin/python benchmarks/bench_state.py [--seconds 4] [--clients 8] [--rounds 3]

To compare two checkouts, run this same script against each (``PYTHONPATH=<checkout>``).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import psycopg  # noqa: E402
from pgkit import running_cluster  # noqa: E402

from zone.audit import AuditChain, ReleaseRegistry  # noqa: E402
from zone.ledger import Account, Amount, PrivacyLedger  # noqa: E402
from zone.metering import Metering  # noqa: E402
from zone.policy import Grant, Price  # noqa: E402
from zone.release.desk import Order, ReleaseDesk  # noqa: E402
from zone.state.api import State  # noqa: E402
from zone.state.location import PoolOptions, PostgresUrl  # noqa: E402
from zone.state.opening import open_state  # noqa: E402

LIMIT = Amount.limit(1e9, 1e-6)
COST = Amount.cost(1e-3)
GRANT = Grant("p", ("stats",), {}, "benchmark", price=Price("CNY", per_call_micro=50_000),
              source="bench")  # fmt: skip


def drive(clients: int, seconds: float, one: Callable[[int, int], None]) -> float:
    """Run ``one(client, i)`` in a loop on ``clients`` threads for ``seconds``; return ops/s."""
    done = [0] * clients
    stop = time.perf_counter() + seconds
    start = threading.Barrier(clients)

    def loop(c: int) -> None:
        start.wait()
        i = 0
        while time.perf_counter() < stop:
            one(c, i)
            i += 1
        done[c] = i

    threads = [threading.Thread(target=loop, args=(c,)) for c in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - began)


def raw_sqlite(path: Path) -> Callable[[int, int], None]:
    conns: dict[int, sqlite3.Connection] = {}
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS raw (k TEXT PRIMARY KEY, spent INTEGER)")
    setup.execute("INSERT OR REPLACE INTO raw VALUES ('hot', 0)")
    setup.close()

    def one(client: int, i: int) -> None:
        conn = conns.get(client)
        if conn is None:
            conn = conns[client] = sqlite3.connect(path, isolation_level=None, timeout=30,
                                                   check_same_thread=False)  # fmt: skip
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE raw SET spent = spent + 1 WHERE k = 'hot' AND spent + 1 <= 1e15")
        conn.execute("COMMIT")

    return one


def raw_postgres(url: str) -> Callable[[int, int], None]:
    conns: dict[int, psycopg.Connection[Any]] = {}
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS raw (k TEXT PRIMARY KEY, spent BIGINT)")
        setup.execute("INSERT INTO raw VALUES ('hot', 0) ON CONFLICT (k) DO NOTHING")

    def one(client: int, i: int) -> None:
        conn = conns.get(client)
        if conn is None:
            conn = conns[client] = psycopg.connect(url)
        conn.execute("UPDATE raw SET spent = spent + 1 WHERE k = 'hot' AND spent + 1 <= 1e15")
        conn.commit()

    return one


def zone_parts(state: State) -> tuple[PrivacyLedger, ReleaseDesk]:
    audit = AuditChain(state)
    ledger = PrivacyLedger(state, audit)
    metering = Metering(state, audit, lambda product: ("d", (("prov", Decimal(1)),)))
    return ledger, ReleaseDesk(state, ledger, metering, ReleaseRegistry(state, audit))


def account(client: int, hot: bool) -> Account:
    return Account("p0" if hot else f"p{client}", "d", LIMIT)


def figures(state: State, raw: Callable[[int, int], None]) -> dict[str, Callable[[int, int], None]]:
    """Every figure of one backend: name -> one reservation of client ``c``, iteration ``i``."""
    ledger, desk = zone_parts(state)
    out = {"raw  hot": raw}
    for hot in (True, False):
        tag = "hot   " if hot else "spread"
        out[f"ledger {tag}"] = lambda c, i, hot=hot: ledger.reserve(
            account(c, hot), product="stats", cost=COST, request_id=f"{c}-{i}"
        )  # fmt: skip
        out[f"desk   {tag}"] = lambda c, i, hot=hot: desk.reserve(
            Order(account(c, hot).principal, GRANT, "stats", "call", f"{c}-{i}",
                  account(c, hot), COST)
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per figure and round")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-fsync", action="store_true",
                        help="PostgreSQL with fsync off (what its flush to disk costs, by "
                             "difference); SQLite stays synchronous=FULL")  # fmt: skip
    args = parser.parse_args(argv)
    durable = not args.no_fsync
    print(f"cores: {os.cpu_count()}, clients: {args.clients} threads in one process, "
          f"{args.seconds:g} s per figure and round, {args.rounds} rounds interleaved, "
          f"PostgreSQL fsync {'on' if durable else 'OFF'}; zone code from "
          f"{Path(sys.modules['zone'].__file__ or '').parent}")  # fmt: skip
    pool = PoolOptions(min_connections=args.clients, max_connections=64)
    rates: dict[str, dict[str, list[float]]] = {"sqlite": {}, "postgresql": {}}
    with tempfile.TemporaryDirectory() as tmp, running_cluster(fsync=durable) as cluster:
        url = cluster.create_database("bench")
        states = {
            "sqlite": open_state(Path(tmp) / "state.sqlite", pool),
            "postgresql": open_state(PostgresUrl(url), pool),
        }
        try:
            runs = {
                "sqlite": figures(states["sqlite"], raw_sqlite(Path(tmp) / "raw.sqlite")),
                "postgresql": figures(states["postgresql"], raw_postgres(url)),
            }
            for r in range(args.rounds):
                print(f"round {r + 1}: load average {os.getloadavg()}", flush=True)
                for name in runs["sqlite"]:
                    for backend, run in runs.items():
                        rate = drive(args.clients, args.seconds, run[name])
                        rates[backend].setdefault(name, []).append(rate)
        finally:
            for state in states.values():
                state.close()
    report(rates)
    print(f"load average after: {os.getloadavg()}")


def report(rates: dict[str, dict[str, list[float]]]) -> None:
    """Medians over the rounds, [min-max], and the median per-round ratio to raw."""
    print(f"{'reservations/s':<15}{'sqlite':>19}{'/raw':>6}{'postgresql':>21}{'/raw':>6}"
          f"{'pg/sqlite':>10}")  # fmt: skip
    for name in rates["sqlite"]:
        cells = []
        for backend in ("sqlite", "postgresql"):
            got, raw = rates[backend][name], rates[backend]["raw  hot"]
            ratio = statistics.median(g / r for g, r in zip(got, raw, strict=True))
            cells.append(f"{statistics.median(got):>7.0f} [{min(got):>4.0f}-{max(got):>4.0f}]"
                         f"{ratio:>6.2f}")  # fmt: skip
        pg_over = statistics.median(
            p / q for p, q in zip(rates["postgresql"][name], rates["sqlite"][name], strict=True)
        )
        print(f"{name:<15}{cells[0]:>25}{cells[1]:>27}{pg_over:>10.2f}")


if __name__ == "__main__":
    main()
