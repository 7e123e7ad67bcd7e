"""The cost of receipts, checkpoints and tracing, measured on a real state database.

1. Settling a release with and without its registry row (``PrivacyLedger.release`` with
   ``artifact=``, a 16-cell statistics artifact), durable, interleaved rounds: the ratio is the
   registry's cost per release.
2. ``make_checkpoint`` (verifies the whole chain, builds the Merkle root, signs, stores) and
   ``verify_against_checkpoint`` on a chain of ``--entries`` entries.
3. ``ReceiptBook.bundle``: the first call after a checkpoint (builds and caches its tree) and the
   following ones (cached), and the offline ``verify_bundle``.
4. ``trace`` of one leaked statistics CSV against ``--releases`` registered releases.

    .venv/bin/python benchmarks/bench_receipts.py [--entries 50000] [--releases 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from zone.audit import AuditChain, ReleasedArtifact, ReleaseRegistry, utc_timestamp
from zone.audit.checkpoint import latest_checkpoint, make_checkpoint, verify_against_checkpoint
from zone.audit.leaked import read_leaked
from zone.audit.receipts import ReceiptBook
from zone.audit.releases import read_releases
from zone.audit.trace import trace
from zone.ledger import Account, Amount, PrivacyLedger
from zone.state import StateStore
from zone.wire.receipts import verify_bundle

DISTRICTS = [f"d{i}" for i in range(16)]


def stats_artifact(rng: random.Random) -> dict[str, Any]:
    """A count-by-district release as StatsRelease.to_dict() shapes it."""
    cells = [{"key": [d], "values": [float(125 + rng.randint(-6, 6))]} for d in DISTRICTS]
    return {"product": "p", "measures": [{"kind": "count", "column": "", "cells": cells}]}


def receipt(release_id: str, principal: str) -> dict[str, Any]:
    return {
        "release_id": release_id, "time": utc_timestamp(), "principal": principal,
        "product": "p", "dataset_version": "v", "policy_digest": "d", "code_version": "c",
        "epsilon_micro": 100_000, "delta_femto": 0, "output_digest": "sha256:x",
    }  # fmt: skip


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_settlement(store: StateStore, calls: int, rounds: int) -> tuple[float, float]:
    """Median per-release seconds of reserve + release without and with the registry row."""
    chain = AuditChain(store)
    ledger = PrivacyLedger(store, chain)
    account = Account("bench", "ds", Amount.limit(1e9, 0))
    rng = random.Random(1)
    plain: list[float] = []
    registered: list[float] = []
    for _ in range(rounds):
        for with_row, sink in ((False, plain), (True, registered)):
            start = time.perf_counter()
            for _ in range(calls):
                r = ledger.reserve(account, product="p", cost=Amount.cost(0.1), request_id="q")
                artifact = ReleasedArtifact("statistics", stats_artifact(rng)) if with_row else None
                ledger.release(r, receipt(r.release_id, "bench"), artifact=artifact)
            sink.append((time.perf_counter() - start) / calls)
    return statistics.median(plain), statistics.median(registered)


def fill(store: StateStore, entries: int, releases: int) -> str:
    """Append ``entries`` rpc records and ``releases`` registered releases; return one id."""
    chain = AuditChain(store)
    registry = ReleaseRegistry(store, chain)
    rng = random.Random(2)
    every = max(1, entries // max(1, releases))
    target = ""
    with store.write() as conn:
        for i in range(entries):
            chain.append(
                "rpc", {"request_id": f"r{i}", "principal": "p", "method": "/x"}, conn=conn
            )
            if i % every == 0:
                rid = f"rel-{i}"
                registry.record(
                    receipt(rid, f"bank-{i % 7}"),
                    ReleasedArtifact("statistics", stats_artifact(rng)),
                    conn=conn,
                )
                target = rid
    return target


def leaked_csv(registry: ReleaseRegistry, release_id: str) -> bytes:
    cells = registry.get(release_id).artifact["measures"][0]["cells"]
    rows = ["values,group,measure"] + [f"{c['values'][0]:.3g},{c['key'][0]},count()" for c in cells]
    return ("\n".join(rows) + "\n").encode()


def report_chain(store: StateStore, target: str) -> None:
    """Checkpoint, verification, receipt bundles and tracing on a filled chain."""
    key = Ed25519PrivateKey.generate()
    seconds = timed(lambda: make_checkpoint(store, key))
    print(f"make_checkpoint over {AuditChain(store).head()[0]} entries: {seconds:.2f} s")
    with store.read() as conn:
        cp = latest_checkpoint(conn)
        assert cp is not None
        seconds = timed(lambda: verify_against_checkpoint(conn, cp, key.public_key()))
        releases = list(read_releases(conn))
    print(f"verify_against_checkpoint: {seconds:.2f} s")
    registry = ReleaseRegistry(store, AuditChain(store))
    book = ReceiptBook(store, registry)
    first = timed(lambda: book.bundle("x", True, target))
    n = 200
    cached = timed(lambda: [book.bundle("x", True, target) for _ in range(n)]) / n
    bundle = book.bundle("x", True, target)
    check = timed(lambda: [verify_bundle(bundle, trusted=key.public_key()) for _ in range(n)]) / n
    print(
        f"receipt bundle: first after a checkpoint {first * 1e3:.0f} ms (builds the tree), "
        f"then {cached * 1e3:.2f} ms; offline verify {check * 1e3:.2f} ms"
    )
    leaked = read_leaked(leaked_csv(registry, target))
    start = time.perf_counter()
    result = trace(leaked, releases)
    seconds = time.perf_counter() - start
    assert result.best is not None
    print(
        f"trace one 16-cell CSV against {len(releases)} releases: {seconds * 1e3:.0f} ms; "
        f"right release {result.best.release_id == target}, score {result.best.score:.2f}, "
        f"margin {result.margin:.2f}"
    )


def main() -> None:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--releases", type=int, default=300)
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with StateStore.open(Path(tmp) / "settle.sqlite") as store:
            plain, registered = bench_settlement(store, args.calls, args.rounds)
        print(
            f"settle a release (reserve + release, durable): {plain * 1e3:.2f} ms without the "
            f"registry row, {registered * 1e3:.2f} ms with; ratio {registered / plain:.2f}"
        )
        with StateStore.open(Path(tmp) / "chain.sqlite") as store:
            report_chain(store, fill(store, args.entries, args.releases))


if __name__ == "__main__":
    main()
