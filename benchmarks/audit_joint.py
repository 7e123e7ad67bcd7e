"""One-run privacy audit of a joint job's DP-SGD on UCI Adult split vertically (a report).

The joined training table of bench_joint.py (the bank's cohort = the Adult training split with
its own columns, the zone's census columns joined in by the zone's own code: `csvload`,
`plan_joint`, `data.load`, 3% of the cohort without zone data) is planned at the given
replace-one epsilon with `plan_joint` (default hyperparameters; DP-SGD gets epsilon_dpsgd =
0.45 epsilon add/remove), its noise calibrated with the zone's `dpsgd.calibrate`, and audited
with `zone.products.training.audit.audit_dpsgd` (Steinke, Nasr and Jagielski, "Privacy Auditing
with One (1) Training Run", NeurIPS 2023) on an 80% training part as the worker draws: m Dirac
canaries (an input column of their own each, label 1, included with probability 1/2), one run
of the zone's `dpsgd.fit`, k highest guessed in and k lowest out, the paper's 95% lower bound.

What it bounds: canaries are added or removed rows, so the bound is on the add/remove epsilon of
the DP-SGD run (epsilon_dpsgd); the charge for replace-one is 2 epsilon_dpsgd + the metrics'.
A bound above epsilon_dpsgd would mean the implementation or its accounting is wrong. A control
run without noise and clipping shows what the audit detects when privacy is gone.

    .venv/bin/python benchmarks/audit_joint.py [--epsilon 1] [--canaries 1000] [--k 100]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from audit_training import audit_runs  # noqa: E402
from bench_joint import adult_frames, joined_table, make_spec, zone_folder  # noqa: E402

from zone.products.training import dpsgd  # noqa: E402
from zone.products.training.model import split_rows  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100, help="guesses at each end")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train, test = adult_frames(args.work / "wheels")
    frames = pd.concat([train, test], ignore_index=True)
    frames["person_id"] = np.arange(len(frames))
    with tempfile.TemporaryDirectory() as tmp:
        config, _ = zone_folder(Path(tmp) / "zone", frames)
        x, y, _ = joined_table(config.parent, frames.iloc[: len(train)], "train")
        spec = make_spec(config.parent, "train", len(y), args.epsilon)
    (train_x, train_y), _ = split_rows(torch.from_numpy(x), torch.from_numpy(y), 0.2)
    t = spec.training
    calibration = dpsgd.calibrate(t)
    print(
        f"UCI Adult joined: {len(train_y)} training rows x {x.shape[1]} inputs; replace-one "
        f"epsilon {spec.epsilon} -> DP-SGD add/remove {spec.epsilon_dpsgd:.3f} (PRV "
        f"{calibration.epsilon:.3f}), delta_dpsgd {spec.delta_dpsgd:.3g}; noise multiplier "
        f"{calibration.noise_multiplier:.4f}, sample rate {t.sample_rate:.5f}, {t.steps} steps; "
        f"m = {args.canaries} canaries, k+ = k- = {args.k}, 95% confidence"
    )
    bounds = audit_runs(t, train_x, train_y, calibration.noise_multiplier, args)
    print(
        f"joint DP-SGD at epsilon_dpsgd {spec.epsilon_dpsgd:.3f} (charged {spec.epsilon} "
        f"replace-one): audit lower bound median {statistics.median(bounds):.3f}, "
        f"max {max(bounds):.3f}"
    )
    return 0 if max(bounds) <= spec.epsilon_dpsgd else 1


if __name__ == "__main__":
    raise SystemExit(main())
