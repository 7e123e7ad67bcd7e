"""Switch-off experiment: what the `rpc` audit record costs the server, per call.

Starts a bare grpcio server (as ``bench_rpc.py`` builds it) and one `zone serve` per variant,
each in its own process, then drives authorized ListDatasets calls at each in interleaved
rounds (``bench_rpc.interleaved``) and prints, per server, the median calls/s, the median
server CPU microseconds per call (min-max over the rounds) and the context switches per call
(all the server's threads, from /proc; warm-up included, estimated at the measured rate),
with the load average before and after. Variants:

- ``full``: the zone as it is;
- ``no-rpc-sql``: the `rpc` record is encoded, linked and hashed but no SQL statement runs
  (its entries are numbered after a fixed head; nothing is stored; with the journal, the
  drainer's batches are what is switched off);
- ``no-rpc-record``: no `rpc` record at all;
- ``linger-5ms`` / ``linger-20ms`` / ``linger-50ms``: the journal's drainer gathers records
  for that long
  (the default is ``zone.audit.chain.DRAIN_LINGER_SECONDS``).

An experiment, not a deployment: the variants break "no reply without its record" on purpose.

    PYTHONPATH=. .venv/bin/python benchmarks/rpc_switchoff.py [--threads 4] [--rounds 5]
        [--seconds 2] [--variants full,no-rpc-sql,no-rpc-record]
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_rpc  # noqa: E402
from zonekit import TOKENS, make_zone_dir  # noqa: E402

from zone.client.health import wait_until_serving  # noqa: E402

VARIANTS = ("full", "no-rpc-sql", "no-rpc-record", "linger-5ms", "linger-20ms", "linger-50ms")


def serve(variant: str, argv: Sequence[str]) -> int:
    """Run `zone serve` (``argv``) with ``variant``'s part switched off (in a child process)."""
    from zone.audit import chain, group
    from zone.cli import main as zone_main

    if variant == "no-rpc-record":
        append = chain.AuditChain.append

        def no_rpc(self: Any, kind: str, record: Any, **kwargs: Any) -> Any:
            return None if kind == "rpc" else append(self, kind, record, **kwargs)

        chain.AuditChain.append = no_rpc  # type: ignore[method-assign]
        journaled = getattr(chain.AuditChain, "append_journaled", None)
        if journaled is not None:

            def no_journaled(self: Any, kind: str, record: Any) -> None:
                if kind != "rpc":
                    journaled(self, kind, record)

            chain.AuditChain.append_journaled = no_journaled  # type: ignore[method-assign]
    elif variant.startswith("linger-"):
        opened = chain.AuditChain.open_journal
        linger = float(variant.removeprefix("linger-").removesuffix("ms")) / 1000

        def lingering(self: Any, folder: Any, **_: Any) -> None:
            opened(self, folder, linger=linger)

        chain.AuditChain.open_journal = lingering  # type: ignore[method-assign]
    elif variant == "no-rpc-sql":

        def unstored(self: Any, batch: Any) -> None:
            entries, _ = chain._link((0, chain.GENESIS_HASH), [t.encoded for t in batch])
            for ticket, entry in zip(batch, entries, strict=True):
                ticket.entry = entry

        group.GroupCommitter._commit_together = unstored  # type: ignore[method-assign]
        if hasattr(chain.AuditChain, "flush"):  # the journal's batches: dropped, not stored
            from zone.audit import journal

            def dropped(self: Any, tx: Any, append: Any) -> Any:
                with self._lock:
                    self._pending.clear()
                return None

            journal.Journal.drain_into = dropped  # type: ignore[method-assign]
    return zone_main(list(argv))


def switches(pid: int) -> int:
    """Voluntary plus involuntary context switches of every thread of ``pid`` so far."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except FileNotFoundError:  # the thread ended
            continue
        total += sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", text))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    variants = args.variants.split(",")
    if unknown := set(variants) - set(VARIANTS):
        parser.error(f"unknown variants: {sorted(unknown)}")
    procs: list[subprocess.Popen[str]] = []
    seen: dict[int, list[int]] = {}
    drive = bench_rpc.drive

    def counted(target: str, threads: int, seconds: float, pid: int) -> tuple[float, float]:
        before = switches(pid)
        rate, cpu = drive(target, threads, seconds, pid)
        # drive() warms up for 0.5 s before its timed window: count those calls at its rate.
        calls = rate * (seconds + 0.5)
        seen.setdefault(pid, []).append(round((switches(pid) - before) / calls))
        return rate, cpu

    bench_rpc.drive = counted
    with tempfile.TemporaryDirectory() as tmp:
        try:
            targets = []
            for i, variant in enumerate(variants):
                config = make_zone_dir(Path(tmp) / f"zone{i}", rows=10_000)
                command = [sys.executable, __file__, "--serve", variant, "--log-level",
                           "WARNING", "serve", "--config", str(config), "--listen",
                           "127.0.0.1:0"]  # fmt: skip
                proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
                procs.append(proc)
                assert proc.stdout is not None
                target = proc.stdout.readline().split()[-1]
                wait_until_serving(target, timeout=60)
                targets.append((target, proc.pid))
            with grpc.insecure_channel(targets[0][0]) as channel:
                reply = channel.unary_unary(bench_rpc.METHOD)(
                    b"", metadata=(("authorization", f"Bearer {TOKENS['bank']}"),), timeout=10
                )
            bare = subprocess.Popen(
                [sys.executable, bench_rpc.__file__, "--bare-reply", reply.hex(), str(config)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            procs.append(bare)
            assert bare.stdout is not None
            targets.insert(0, (f"127.0.0.1:{bare.stdout.readline().strip()}", bare.pid))
            print(f"load average before: {bench_rpc._load()}")
            runs = bench_rpc.interleaved(targets, args.threads, args.seconds, args.rounds)
            print(f"load average after:  {bench_rpc._load()}")
            print(f"{args.threads} client threads, {args.rounds} rounds of {args.seconds} s")
            print(f"{'server':>14} {'calls/s':>8} {'cpu us':>7} {'min-max':>9} {'switches':>8}")
            for name, run, (_, pid) in zip(["bare", *variants], runs, targets, strict=True):
                cpus = [cpu for _, cpu in run]
                rate = statistics.median(r for r, _ in run)
                spread = f"{min(cpus):.0f}-{max(cpus):.0f}"
                print(f"{name:>14} {rate:>8.0f} {statistics.median(cpus):>7.0f} {spread:>9} "
                      f"{statistics.median(seen[pid]):>8}")  # fmt: skip
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        sys.exit(serve(sys.argv[2], sys.argv[3:]))
    sys.exit(main())
