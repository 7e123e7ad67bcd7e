"""Warm-up of a training worker before its job arrives: first-use costs paid on public data.

A pool worker (``zone.jobs.pool``) calls :func:`warm_up` after importing the training modules
and before it waits for its one job. A fresh process pays once for work that the first training
run triggers lazily: about 190 more modules (``torch._dynamo``, ``torch.onnx`` and others that
Opacus and torch import on first use), scipy's FFT and special functions in the PRV accountant,
OpenDP's first measurement, DuckDB's first connection. Measured on UCI Adult: the first
``worker.run`` in a process took 0.5-1.5 s more CPU than the next one.

The shapes are a typical job's, not a toy's: the accounting runs at sample rate 1/100 for 2,000
steps and DP-SGD runs 16 steps on 4,096 rows of 128 inputs (batches of about 256). With a
64-row, one-input warm-up the first job in a worker still took 0.2-0.4 s more CPU than a
second one in the same process (UCI Adult, 3 fresh processes each; with these shapes -0.2 to
+0.3 s, and the warm-up costs about 0.2 s more, before the job arrives).

The warm-up reads no dataset: a tiny synthetic table made here from constants, on the CPU. It
releases nothing (its events go nowhere) and leaves no state a job depends on: the job's model is
initialised from its own seed, and its split, sampling and noise use generators seeded from OS
entropy (``model.entropy_generator``), never torch's global generator.
"""

from __future__ import annotations

import dataclasses

import duckdb
import numpy as np
import torch

import zone.products.training.dpsgd as dpsgd
import zone.products.training.metrics as metrics
from zone.products.training.model import outputs
from zone.products.training.scaling import FeatureScaling, LabelScaling
from zone.products.training.spec import TrainingSpec

_ROWS = 64
_NOISE = 1.0
_FIT_ROWS = 4096
_FIT_INPUTS = 128
_FIT_STEPS = 16
_ACCOUNTED_STEPS_PER_EPOCH = 100  # sample rate 1/100
_ACCOUNTED_EPOCHS = 20


def _spec() -> TrainingSpec:
    return TrainingSpec(
        product="warm-up",
        family="logistic_regression",
        dataset="warm_up",
        table="ds_warm_up",
        db_path=":memory:",
        features=("x",),
        label="y",
        scaling=(FeatureScaling("x", "numeric", (0.0, 1.0)),),
        label_scaling=LabelScaling("y", "binary", classes=(0, 1)),
        epochs=2,
        batch_size=16,
        steps_per_epoch=4,
        sample_rate=0.25,
        expected_batch_size=16.0,
        learning_rate=1.0,
        max_grad_norm=1.0,
        hidden_width=None,
        epsilon=1.0,
        delta=1e-5,
        epsilon_training=0.9,
        epsilon_metrics=0.1,
        public_row_count=_ROWS,
        public_train_rows=_ROWS,
        validation_fraction=0.2,
        split_seed=None,
        entity_key="id",
        seed=0,
        use_cuda=False,
        keep_in_zone=False,
    )


def warm_up() -> None:
    """Run the training code path once on synthetic public data; release nothing."""
    torch.set_num_threads(1)
    spec = _spec()
    config: dict[str, str | bool | int | float | list[str]] = {"enable_external_access": False}
    with duckdb.connect(":memory:", config=config) as con:
        con.execute("SELECT range / ? AS x FROM range(?)", [_ROWS, _ROWS]).fetchnumpy()
    # One accounting, not a calibration: the calibration's binary search runs the same code
    # about 15 times, and the first run is what costs extra (measured: 4.8 s for calibrate).
    typical = dataclasses.replace(
        spec, sample_rate=1 / _ACCOUNTED_STEPS_PER_EPOCH,
        steps_per_epoch=_ACCOUNTED_STEPS_PER_EPOCH, epochs=_ACCOUNTED_EPOCHS,
    )  # fmt: skip
    epsilon = dpsgd.accounted_epsilon(_NOISE, typical, typical.steps)
    dpsgd.progress_epsilons(spec, dpsgd.Calibration(_NOISE, epsilon))
    x = torch.linspace(0, 1, _ROWS).reshape(-1, 1)
    y = (x[:, 0] > 0.5).float()
    model, _ = dpsgd.fit(spec, x, y, _NOISE)
    predicted = outputs(model, x).numpy()
    metrics.dp_metrics(spec, predicted, y.double().numpy().astype(np.float64))
    wide = torch.linspace(0, 1, _FIT_ROWS * _FIT_INPUTS).reshape(_FIT_ROWS, _FIT_INPUTS)
    batches = dataclasses.replace(
        spec, epochs=1, steps_per_epoch=_FIT_STEPS, sample_rate=1 / _FIT_STEPS,
        expected_batch_size=_FIT_ROWS / _FIT_STEPS,
    )  # fmt: skip
    dpsgd.fit(batches, wide, (wide[:, 0] > 0.5).float(), _NOISE)
