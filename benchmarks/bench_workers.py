"""Training on worker machines: a job through procrastinate vs the local executor (a report).

Goal (issue 17): wall time of a zone job run by a ``zone worker`` through procrastinate / the
same job run by the replica's local executor <= 1.1.

Starts a throwaway PostgreSQL 15 cluster (tests/pgkit.py; fsync on unless ``--no-fsync``) with
two databases, and two zones built alike (tests/zonekit.py: the demo ``enterprises`` table of
``--rows`` rows, product ``enterprise-default-lr``): zone L (``zone serve``, local executor,
one warm worker) and zone P (``zone serve`` with ``jobs.executor: procrastinate`` plus one
``zone worker`` process with one warm child). Both states are PostgreSQL, so the executor is
the only difference. In each repetition, interleaved (L first in even repetitions, P first in
odd ones), the benchmark waits until the warm children of both sides are idle (their CPU time
stops growing: the replacement of the child that ran the previous job, which imports torch for
seconds, must not overlap the next job), then times ``client.train(...).result()`` from submit
to result on each zone. Printed: each pair, the medians, the ratio P/L of the medians and the
median of the per-pair ratios, and the load average before and after. On these 2-core machines
the server, the worker, its warm child and PostgreSQL share the cores; on worker machines of
their own the training would not compete with the replicas at all.

    .venv/bin/python benchmarks/bench_workers.py [--repeats 5] [--rows 40000] [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from pgkit import running_cluster  # noqa: E402
from zonekit import add_principal, make_zone_dir, serve_process  # noqa: E402

from zone.client import ZoneClient  # noqa: E402

PRODUCT = "enterprise-default-lr"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                if b"spawn_main" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(parent: int, timeout: float = 180.0) -> None:
    """Wait until a warm child of ``parent`` exists and its CPU time stopped growing for 1 s."""
    deadline = time.monotonic() + timeout
    last: dict[int, float] = {}
    while time.monotonic() < deadline:
        for pid in _children(parent):
            try:
                cpu = _cpu(pid)
            except OSError:
                continue
            if last.get(pid) == cpu:
                return
            last[pid] = cpu
        time.sleep(1.0)
    raise SystemExit(f"no idle warm child of {parent}")


def timed_job(address: str, token: str, epochs: int) -> float:
    with ZoneClient(address, token=token, timeout=600) as client:
        start = time.perf_counter()
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, epochs=epochs, batch_size=256)
        job.result()
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-fsync", action="store_true")
    args = parser.parse_args(argv)
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()}")
    procs: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp, running_cluster(fsync=not args.no_fsync) as pg:
        root = Path(tmp)
        local = make_zone_dir(root / "local", args.rows, state_db=pg.create_database(),
                              extra_config="jobs:\n  warm_workers: 1\n")  # fmt: skip
        remote = make_zone_dir(root / "workers", args.rows, state_db=pg.create_database(),
                               extra_config="jobs:\n  executor: procrastinate\n"
                               "  warm_workers: 1\n")  # fmt: skip
        tokens = [add_principal(c, "bench", products=(PRODUCT,), epsilon=1e4, delta=1e-2)
                  for c in (local, remote)]  # fmt: skip
        try:
            server_l, address_l = serve_process(local)
            procs.append(server_l)
            server_p, address_p = serve_process(remote)
            procs.append(server_p)
            with (root / "worker.log").open("wb") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "zone.cli", "worker", "--config", str(remote)],
                    stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                )  # fmt: skip
            procs.append(worker)
            sides = {"local": (server_l.pid, address_l, tokens[0]),
                     "procrastinate": (worker.pid, address_p, tokens[1])}  # fmt: skip
            times: dict[str, list[float]] = {"local": [], "procrastinate": []}
            for rep in range(args.repeats):
                order = ["local", "procrastinate"] if rep % 2 == 0 else ["procrastinate", "local"]
                for name in order:
                    for pid, _, _ in sides.values():  # no child start-up overlaps a job
                        wait_idle(pid)
                    _, address, token = sides[name]
                    times[name].append(timed_job(address, token, args.epochs))
                ratio = times["procrastinate"][-1] / times["local"][-1]
                print(f"repetition {rep}: local {times['local'][-1]:.2f} s, procrastinate "
                      f"{times['procrastinate'][-1]:.2f} s, ratio {ratio:.3f}")  # fmt: skip
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
    med = {name: statistics.median(values) for name, values in times.items()}
    pairs = [p / q for p, q in zip(times["procrastinate"], times["local"], strict=True)]
    print(f"rows {args.rows}, epochs {args.epochs}, {args.repeats} repetitions")
    print(f"median local {med['local']:.2f} s, median procrastinate {med['procrastinate']:.2f} s")
    print(f"ratio of medians {med['procrastinate'] / med['local']:.3f}; "
          f"median of per-pair ratios {statistics.median(pairs):.3f} (goal <= 1.1)")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
