"""CPU time of Score through the zone against the same TenSEAL work in-process, interleaved.

Wall-clock ratios on a shared 2-core machine move with other tenants' load by more than most
changes move them (the raw path runs on one core, the zone on two); CPU seconds per run are
steadier. Builds the same zone as ``bench_verification.py`` (its ``zone_folder``, product
``capital-match``, ``consent: none``, calls of ``--per-call`` subjects), starts ``zone serve``
in a child process and, round by round, runs the zone (SDK: ``score_batch`` of ``--subjects``
subjects with ``--in-flight`` calls in flight, or ``--single`` one-subject ``score`` calls) and
then the raw path (``bench_verification.raw_score``: whole 4,096-slot blocks, or one subject
packed two features to a ciphertext), and prints per run the medians over rounds of: wall
seconds and the paired ratio raw / zone, the SDK's CPU (this process), the server's CPU (the
zone process and its children: encryption-of-zero and Match workers) and the raw path's CPU,
with the load average.

    .venv/bin/python benchmarks/bench_score_cpu.py [--rounds 8] [--in-flight 2] [--single]

To compare two source trees, run it from each in turn (alternating, several times).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_verification as bv  # noqa: E402
from zonekit import TOKENS, serve_process  # noqa: E402

from zone.client import ZoneClient  # noqa: E402
from zone.client.he import new_keys  # noqa: E402
from zone.client.health import wait_until_serving  # noqa: E402


def process_cpu(pids: Sequence[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (from /proc; gone processes count 0)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def family(pid: int) -> list[int]:
    """``pid`` and its children."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid, *(int(p) for p in found.split())]


def measure(run: Callable[[], object], server: Callable[[], float]) -> tuple[float, float, float]:
    """Wall seconds, this process's CPU seconds and the server's CPU seconds of ``run()``."""
    cpu, served, start = time.process_time(), server(), time.perf_counter()
    run()
    wall = time.perf_counter() - start
    return wall, time.process_time() - cpu, server() - served


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--subjects", type=int, default=16_384)
    parser.add_argument("--per-call", type=int, default=2048)
    parser.add_argument("--in-flight", type=int, default=2)
    parser.add_argument("--single", action="store_true", help="15 one-subject calls per round")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-score-cpu-") as folder:
        config = bv.zone_folder(Path(folder), args.rows, args.per_call, 2, True)
        rows = bv.registry(Path(folder))
        proc, address = serve_process(config)
        try:
            wait_until_serving(address)
            bank = ZoneClient(address, token=TOKENS["bank"], timeout=300)
            keys = new_keys("ckks-8192")
            bank.register_key(keys)
            server = bv.public_server_context(keys)
            rng = np.random.default_rng(1)
            n = args.subjects
            subjects = [r["uscc"] for r in rows[:n]]
            features = {"loan_amount": list(rng.random(n) * 5000),
                        "days_overdue": list(rng.random(n) * 365)}  # fmt: skip
            one = {"loan_amount": 1000.0, "days_overdue": 5.0}

            def zone() -> None:
                if args.single:
                    for row in rows[:15]:
                        bank.score(bv.PRODUCT, keys, row["uscc"], one, purpose="bench")
                else:
                    bank.score_batch(bv.PRODUCT, keys, subjects, features, purpose="bench",
                                     in_flight=args.in_flight)  # fmt: skip

            def raw() -> None:
                with keys.zeros.computing():  # the SDK's precomputation pauses, as in a run
                    if args.single:
                        for _ in range(15):
                            single = np.zeros((2, bv.SLOTS))
                            single[:, 0] = rng.random(2)
                            bv.raw_score(keys, server, single, np.zeros(bv.SLOTS), count=1)
                    else:
                        for _ in range(-(-n // bv.SLOTS)):
                            bv.raw_score(keys, server, rng.random((2, bv.SLOTS)),
                                         rng.random(bv.SLOTS))  # fmt: skip

            zone()  # warm-up: connections, records, the zero worker
            served = lambda: process_cpu(family(proc.pid))  # noqa: E731
            names = ("zone_s", "raw_s", "sdk_cpu", "server_cpu", "raw_cpu")
            runs: dict[str, list[float]] = {name: [] for name in names}
            for _ in range(args.rounds):
                wall, sdk, served_cpu = measure(zone, served)
                raw_wall, raw_cpu, _ = measure(raw, lambda: 0.0)
                for key, value in zip(runs, (wall, raw_wall, sdk, served_cpu, raw_cpu),
                                      strict=True):  # fmt: skip
                    runs[key].append(value)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            if proc.stdout:
                proc.stdout.close()
    ratios = [r / z for z, r in zip(runs["zone_s"], runs["raw_s"], strict=True)]
    median = statistics.median
    report = {
        "mode": "single" if args.single else f"batch in_flight={args.in_flight}",
        "ratio": round(median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        **{key: round(median(values), 4) for key, values in runs.items()},
        "zone_cpu_over_raw": round(
            (median(runs["sdk_cpu"]) + median(runs["server_cpu"])) / median(runs["raw_cpu"]), 2
        ),
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
