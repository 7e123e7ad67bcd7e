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
        [--baseline-src DIR]
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


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(target: str, threads: int, seconds: float, pid: int) -> tuple[float, float]:
    """Authorized ListDatasets calls per second from ``threads`` client threads, and the CPU
    microseconds the server (process ``pid``) spent per call meanwhile (less sensitive to
    other work on the machine than the rate)."""
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
    start_counts, start, start_cpu = sum(counts), time.perf_counter(), cpu_seconds(pid)
    time.sleep(seconds)
    done, elapsed = sum(counts) - start_counts, time.perf_counter() - start
    cpu = cpu_seconds(pid) - start_cpu
    stop.set()
    for t in pool:
        t.join()
    return done / elapsed, cpu / done * 1e6


def interleaved(targets: list[str], threads: int, seconds: float, rounds: int) -> list[list[float]]:
    """Calls/s at each target, one measurement of each per round, the order rotating."""
    rates: list[list[float]] = [[] for _ in targets]
    for i in range(rounds):
        order = list(range(len(targets)))
        order = order[i % len(order) :] + order[: i % len(order)]
        for k in order if i % 2 == 0 else order[::-1]:
            rates[k].append(drive(*targets[k][:1], threads, seconds, targets[k][1]))
    return rates


def start_zone(config: Path, source: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """Run ``zone serve`` on ``config`` (from the source tree ``source``, default this one)."""
    env, cwd = None, None
    if source is not None:  # -m puts the working directory first on sys.path
        env, cwd = {**os.environ, "PYTHONPATH": str(source)}, source
    zone = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "serve",
         "--config", str(config), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True, env=env, cwd=cwd,
    )  # fmt: skip
    assert zone.stdout is not None
    target = zone.stdout.readline().split()[-1]
    wait_until_serving(target, timeout=60)
    return zone, target


def spread(ratios: list[float]) -> str:
    """Median and min-max of ``ratios``."""
    return f"{statistics.median(ratios):>6.2f} {min(ratios):>5.2f}-{max(ratios):<5.2f}"


def _cpu(runs: list[tuple[float, float]]) -> float:
    return statistics.median(cpu for _, cpu in runs)


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
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also drive a zone served from this source tree (e.g. an export of main), "
        "interleaved in the same rounds: before and after side by side",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = make_zone_dir(Path(tmp) / "zone", rows=args.rows)
        started = time.perf_counter()
        zone, zone_target = start_zone(config)
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
        procs, targets = [zone, bare], [(bare_target, bare.pid), (zone_target, zone.pid)]
        if args.baseline_src is not None:
            base_config = make_zone_dir(Path(tmp) / "baseline", rows=args.rows)
            baseline, base_target = start_zone(base_config, args.baseline_src.resolve())
            procs.append(baseline)
            targets.append((base_target, baseline.pid))
        try:
            print(f"zone serve -> SERVING: {to_serving:.2f} s ({args.rows:,}-row dataset)")
            print(f"zone server idle RSS:  {idle_rss:.0f} MB")
            print(f"load average before: {_load()}")
            names = ["zone", "baseline"][: len(targets) - 1]
            print("calls/s (median of rounds), ratio to bare (median, min-max), and the server's"
                  " CPU us per call (median)")  # fmt: skip
            columns = (f"{n + '/s':>11} {'ratio':>6} {'min-max':>11} {'cpu':>5}" for n in names)
            print(f"{'threads':>7} {'bare/s':>7} {'cpu':>5}  " + "  ".join(columns))
            for threads in (1, 4):
                runs = interleaved(targets, threads, args.seconds, args.rounds)
                bare_rates = [rate for rate, _ in runs[0]]
                row = f"{threads:>7} {statistics.median(bare_rates):>7.0f} {_cpu(runs[0]):>5.0f}  "
                for other in runs[1:]:
                    ratios = [z / b for (z, _), b in zip(other, bare_rates, strict=True)]
                    rate = statistics.median(z for z, _ in other)
                    row += f"{rate:>11.0f} {spread(ratios)} {_cpu(other):>5.0f}  "
                print(row.rstrip())
            print(f"load average after:  {_load()}")
        finally:
            for proc in procs:
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
