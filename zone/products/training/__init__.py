"""DP training products: DP-SGD (Opacus) on a DuckDB table, run in a worker process.

The server imports only this package and :mod:`~zone.products.training.spec` (no torch)::

    spec = plan_training(request, product, meta, db_path=..., public_row_count=...)
    # the caller charges epsilon/delta, then in a worker process:
    zone.products.training.worker.run(spec.to_json(), emit)

``worker``, ``dpsgd`` and ``model`` import torch and opacus and are imported only by worker
processes.
"""

from __future__ import annotations

from zone.products.training.request import TrainingRequest
from zone.products.training.scaling import FeatureScaling, LabelScaling
from zone.products.training.spec import (
    ACCOUNTANT,
    GUARANTEE,
    METRICS_SHARE,
    VALIDATION_FRACTION,
    TrainingSpec,
    plan_training,
)

__all__ = [
    "ACCOUNTANT",
    "GUARANTEE",
    "METRICS_SHARE",
    "VALIDATION_FRACTION",
    "FeatureScaling",
    "LabelScaling",
    "TrainingRequest",
    "TrainingSpec",
    "plan_training",
]
