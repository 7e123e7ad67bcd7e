"""RPC overhead of the zone against a bare grpcio server, measured in the same run.

Starts, each in its own process: a bare grpcio server that answers every call with the same
ListDatasets reply bytes (no auth, no audit), and `zone serve` on a demo zone. The bare server
is built by the zone's own `zone.server.app.grpc_server` from the zone's config: the same
handler thread pool, message limits and concurrent-call limit (grpcio's per-call accounting
for that limit is grpcio's cost, not the zone's); it sends no metadata. Then drives
authorized ListDatasets calls at each from 1 and from 4 client threads for a fixed time, and
reports calls/s and the ratio zone / bare. The two servers are driven in turn, round after
round (the order alternating), so a change in the machine's load hits both; each row prints the
median of the rounds, the ratio's spread across rounds, and the load average before and after.
Also reports the time from spawning `zone serve` to health SERVING, and the zone server's idle
resident memory.

    .venv/bin/python benchmarks/bench_rpc.py [--seconds 3] [--rounds 5] [--rows 100000]
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
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from zonekit import TOKENS, make_zone_dir  # noqa: E402

from zone._proto import catalog_pb2  # noqa: E402
from zone.client import ZoneClient  # noqa: E402
from zone.client.health import wait_until_serving  # noqa: E402
from zone.config import load_config  # noqa: E402
from zone.server.app import grpc_server  # noqa: E402

METHOD = "/zone.v1.CatalogService/ListDatasets"


def bare_server(reply: bytes, config: Path) -> None:
    """A grpcio server answering every call with ``reply`` (run in a child process).

    Built like the zone's (``grpc_server`` with the limits of ``config``), without the zone.
    """

    class Echo(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(lambda req, ctx: reply)

    server = grpc_server(load_config(config).limits)
    server.add_generic_rpc_handlers((Echo(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    signal.sigwait({signal.SIGTERM})
    server.stop(0)


def drive(target: str, threads: int, seconds: float) -> float:
    """Authorized ListDatasets calls per second from ``threads`` client threads."""
    metadata = (("authorization", f"Bearer {TOKENS['bank']}"),)
    request = catalog_pb2.ListDatasetsRequest().SerializeToString()
    counts = [0] * threads
    stop = threading.Event()

    def worker(i: int) -> None:
        with grpc.insecure_channel(target) as channel:
            call = channel.unary_unary(METHOD)
            call(request, metadata=metadata, timeout=10)  # warm the connection
            while not stop.is_set():
                call(request, metadata=metadata, timeout=10)
                counts[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    time.sleep(0.5)
    start_counts, start = sum(counts), time.perf_counter()
    time.sleep(seconds)
    done, elapsed = sum(counts) - start_counts, time.perf_counter() - start
    stop.set()
    for t in pool:
        t.join()
    return done / elapsed


def interleaved(
    bare: str, zone: str, threads: int, seconds: float, rounds: int
) -> tuple[list[float], list[float]]:
    """Calls/s at ``bare`` and at ``zone``, one measurement of each per round, order alternating."""
    bare_rates: list[float] = []
    zone_rates: list[float] = []
    for i in range(rounds):
        order = ((bare, bare_rates), (zone, zone_rates))
        for target, rates in order if i % 2 == 0 else order[::-1]:
            rates.append(drive(target, threads, seconds))
    return bare_rates, zone_rates


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = make_zone_dir(Path(tmp) / "zone", rows=args.rows)
        started = time.perf_counter()
        zone = subprocess.Popen(
            [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "serve",
             "--config", str(config), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert zone.stdout is not None
        zone_target = zone.stdout.readline().split()[-1]
        wait_until_serving(zone_target, timeout=60)
        to_serving = time.perf_counter() - started
        with ZoneClient(zone_target, token=TOKENS["bank"]) as client:
            client.list_datasets()
        time.sleep(1.0)
        idle_rss = rss_mb(zone.pid)
        with grpc.insecure_channel(zone_target) as channel:
            reply = channel.unary_unary(METHOD)(
                b"", metadata=(("authorization", f"Bearer {TOKENS['bank']}"),), timeout=10
            )
        bare = subprocess.Popen(
            [sys.executable, __file__, "--bare-reply", reply.hex(), str(config)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert bare.stdout is not None
        bare_target = f"127.0.0.1:{bare.stdout.readline().strip()}"
        try:
            print(f"zone serve -> SERVING: {to_serving:.2f} s ({args.rows:,}-row dataset)")
            print(f"zone server idle RSS:  {idle_rss:.0f} MB")
            print(f"load average before: {_load()}")
            print(f"{'client threads':>14} {'bare calls/s':>13} {'zone calls/s':>13} "
                  f"{'ratio':>6} {'ratio min-max':>14}")  # fmt: skip
            for threads in (1, 4):
                bare_rates, zone_rates = interleaved(
                    bare_target, zone_target, threads, args.seconds, args.rounds
                )
                ratios = [z / b for z, b in zip(zone_rates, bare_rates, strict=True)]
                print(f"{threads:>14} {statistics.median(bare_rates):>13.0f} "
                      f"{statistics.median(zone_rates):>13.0f} {statistics.median(ratios):>6.2f} "
                      f"{min(ratios):>6.2f}-{max(ratios):<6.2f}")  # fmt: skip
            print(f"load average after:  {_load()}")
        finally:
            for proc in (zone, bare):
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
                if proc.stdout:
                    proc.stdout.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bare-reply":
        bare_server(bytes.fromhex(sys.argv[2]), Path(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
