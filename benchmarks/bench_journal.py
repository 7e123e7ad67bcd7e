"""CPU per `rpc` record: the journal (mmap copy, drained in batches) against the direct append.

In one process, interleaved round after round, each variant appends the same `rpc` record from
``--threads`` threads for ``--seconds``; reported is the process CPU (all threads, the drainer
and SQLite included) per record, median and min-max over the rounds, with the load average:

- ``append``: ``AuditChain.append(durable=False)``: one SQLite statement per record on the
  caller's path (the zone before the journal);
- ``journal-Nms``: ``AuditChain.append_journaled`` with the drainer gathering N ms per batch
  (then flushed, so every record is in the chain when the round's CPU is read);
- ``mmap``: ``Journal.write`` alone (the copy into the mapped segment; nothing drained);
- ``os.write``: the same frame encoded and written with ``os.write`` to an ``O_APPEND`` file
  under a lock, with the same bookkeeping (nothing drained): the alternative to the mapping.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_journal.py [--threads 4] [--rounds 5]
        [--seconds 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from zone.audit import AuditChain
from zone.audit.chain import _append_many, _encode_record
from zone.audit.journal import Journal, encode_frame
from zone.state.db import StateStore

RECORD = {
    "request_id": "0123456789abcdef0123456789abcdef",
    "principal": "bank-a",
    "role": "bank",
    "method": "/zone.v1.CatalogService/ListDatasets",
    "product": "",
    "decision": "allow",
    "reason": "ok",
    "status": "OK",
    "policy_digest": "f" * 64,
    "peer": "ipv4:127.0.0.1:55555",
}


def timed(
    write: Callable[[], None], threads: int, seconds: float, after: Callable[[], None]
) -> tuple[int, float]:
    """Run ``write`` from ``threads`` threads for ``seconds``, then ``after``; (records, CPU s)."""
    stop, counts = threading.Event(), [0] * threads

    def loop(i: int) -> None:
        n = 0
        while not stop.is_set():
            write()
            n += 1
        counts[i] = n

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    cpu = time.process_time()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    after()
    return sum(counts), time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    record_json, stored = _encode_record("rpc", RECORD)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        chains: dict[str, AuditChain] = {}
        stores = []
        for name, linger in (("append", None), ("journal-5ms", 0.005), ("journal-50ms", 0.05)):
            store = StateStore.open(root / f"{name}.sqlite")
            stores.append(store)
            chain = AuditChain(store)
            if linger is not None:
                chain.open_journal(root / f"{name}.journal", linger=linger)
            chains[name] = chain
        bare_store = StateStore.open(root / "mmap.sqlite")
        stores.append(bare_store)
        bare = Journal.open(bare_store, root / "mmap.journal", _append_many, segment_bytes=1 << 30)
        fd = os.open(root / "append.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        lock, pending, wake = threading.Lock(), deque[tuple[int, int, object]](), threading.Event()
        written = [0]

        def appended() -> None:  # Journal.write with os.write in place of the copy
            encoded = encode_frame("rpc", record_json)
            with lock:
                os.write(fd, encoded)
                written[0] += len(encoded)
                pending.append((1, written[0], stored))
                if len(pending) > 10_000:
                    pending.clear()
            if not wake.is_set():
                wake.set()

        variants: dict[str, Callable[[], None]] = {
            "append": lambda: chains["append"].append("rpc", RECORD, durable=False) and None,
            "journal-5ms": lambda: chains["journal-5ms"].append_journaled("rpc", RECORD),
            "journal-50ms": lambda: chains["journal-50ms"].append_journaled("rpc", RECORD),
            "mmap": lambda: bare.write("rpc", record_json, stored) and None,
            "os.write": appended,
        }
        results: dict[str, list[float]] = {name: [] for name in variants}
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in order:
                chain = chains.get(name)
                # every record in the chain before the CPU is read: its drain is counted
                after = chain.flush if chain is not None else lambda: None
                records, cpu = timed(variants[name], args.threads, args.seconds, after)
                results[name].append(cpu / records * 1e6)
        print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{args.threads} threads, {args.rounds} rounds of {args.seconds} s")
        print(f"{'variant':>13} {'cpu us/record':>13} {'min-max':>12}")
        for name, cpus in results.items():
            spread = f"{min(cpus):.1f}-{max(cpus):.1f}"
            print(f"{name:>13} {statistics.median(cpus):>13.1f} {spread:>12}")
        for chain in chains.values():
            chain.close()
        bare.close()
        os.close(fd)
        for store in stores:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
