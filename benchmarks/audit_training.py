"""One-run privacy audit of the zone's DP-SGD on UCI Adult (a report; Steinke et al. 2023).

The default Adult product of bench_training.py (logistic regression, default hyperparameters:
20 epochs, expected batch 256, learning rate 2, clipping norm 1; delta 1e-5) is planned at the
given epsilon with the zone's `plan_training`, its noise multiplier calibrated with the zone's
`dpsgd.calibrate`, and audited with `zone.products.training.audit.audit_dpsgd`: m Dirac canaries
(each with an input column of its own, label 1, included with probability 1/2), one training run
of the zone's `dpsgd.fit` on the Adult training rows (public scaling, as the worker scales them)
plus the included canaries, the k highest canary weights guessed "included" and the k lowest
"excluded", and the paper's 95% lower bound on epsilon. The bound concerns the training part
(epsilon_training, 90% of the epsilon asked for); the DP metrics are not audited. A control run
without noise and clipping shows what the audit detects when the privacy is gone.

    .venv/bin/python benchmarks/audit_training.py [--epsilon 1] [--canaries 1000] [--k 100]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_training import DELTA, PRODUCT, adult_frames, adult_meta_data, scaled  # noqa: E402

from zone.catalog import TrainingProduct  # noqa: E402
from zone.catalog.metadata import DatasetMeta  # noqa: E402
from zone.products.training import TrainingRequest, TrainingSpec, dpsgd, plan_training  # noqa: E402
from zone.products.training.audit import audit_dpsgd  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100, help="guesses at each end")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train, _ = adult_frames(args.work / "wheels")
    meta = DatasetMeta.model_validate(adult_meta_data())
    product = TrainingProduct.model_validate(PRODUCT)
    public_rows = (len(train) + 500) // 1000 * 1000
    request = TrainingRequest(product=str(PRODUCT["id"]), epsilon=args.epsilon, delta=DELTA)
    spec = plan_training(request, product, meta, db_path=args.work / "unused.duckdb",
                         public_row_count=public_rows)  # fmt: skip
    x = torch.from_numpy(scaled(train, [s.to_dict() for s in spec.scaling]))
    y = torch.from_numpy((train["income"] == ">50K").to_numpy(np.float32))
    calibration = dpsgd.calibrate(spec)
    print(
        f"UCI Adult: {len(x)} rows x {x.shape[1]} features; epsilon {spec.epsilon} "
        f"(training {spec.epsilon_training:.3f}, PRV {calibration.epsilon:.3f}), delta {DELTA}; "
        f"noise multiplier {calibration.noise_multiplier:.4f}, sample rate "
        f"{spec.sample_rate:.5f}, {spec.steps} steps; m = {args.canaries} canaries, "
        f"k+ = k- = {args.k}, 95% confidence"
    )
    bounds = audit_runs(spec, x, y, calibration.noise_multiplier, args)
    print(
        f"DP-SGD at epsilon_training {spec.epsilon_training:.3f}: audit lower bound median "
        f"{statistics.median(bounds):.3f}, max {max(bounds):.3f}"
    )
    return 0 if max(bounds) <= spec.epsilon_training else 1


def audit_runs(
    spec: TrainingSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    noise_multiplier: float,
    args: argparse.Namespace,
) -> list[float]:
    """Audit ``args.repeats`` DP-SGD runs and as many without noise or clipping; print each.

    Returns the epsilon lower bounds of the DP-SGD runs (the others only show that the audit
    detects a model that is not private).
    """
    bounds = []
    for name, noise, clipping in (("DP-SGD", noise_multiplier, True),
                                  ("no noise, no clipping", 0.0, False)):  # fmt: skip
        for repeat in range(args.repeats):
            start = time.perf_counter()
            result = audit_dpsgd(spec, x, y, canaries=args.canaries, k_plus=args.k,
                                 k_minus=args.k, noise_multiplier=noise,
                                 clipping=clipping)  # fmt: skip
            if noise > 0:
                bounds.append(result.epsilon_lower_bound)
            print(
                f"  {name:<22} run {repeat}: {result.correct}/{result.guesses} correct "
                f"({result.included} canaries included): epsilon >= "
                f"{result.epsilon_lower_bound:.3f} ({time.perf_counter() - start:.1f} s)"
            )
    return bounds


if __name__ == "__main__":
    raise SystemExit(main())
