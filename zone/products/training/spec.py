"""Training requests, the validated plan (:class:`TrainingSpec`) handed to a worker process.

No torch here (the server process imports this module; only worker processes import torch).

:func:`plan_training` checks everything before any data is touched and collects every problem.
The plan is made of public numbers only:

* scaling from the metadata's public bounds and domains and the product's declared transforms
  (``scaling``), never from the data;
* the sampling rate. ``public_row_count`` is the catalog's row count rounded to the public
  granularity (treated as public metadata, docs/ARCHITECTURE.md); the worker keeps the
  product's ``holdout_fraction`` (default ``VALIDATION_FRACTION``) of the rows for DP metrics,
  so ``public_train_rows = floor(public_row_count * (1 - holdout_fraction))``. An epoch is
  ``steps_per_epoch = round(public_train_rows / batch_size)`` Poisson-sampled steps and
  ``sample_rate = 1 / steps_per_epoch`` (about ``batch_size / public_train_rows``; a whole
  number of steps per epoch is what Opacus's accounting assumes, ``q = 1 / len(data_loader)``).
  The gradient normaliser is the public expected batch size ``public_train_rows *
  sample_rate``, never the private one (Opacus issues #571/#819). The guarantee holds whatever
  the true row count is; only the actual mean batch size differs from ``batch_size`` when the
  rounded count is off;
* the epsilon split: ``METRICS_SHARE`` (10%) of epsilon for the DP validation metrics, the rest
  for DP-SGD; all of delta goes to DP-SGD (the metrics are pure epsilon-DP);
* that the worker can calibrate the noise for it (``calibration``: an epsilon too small for the
  PRV accountant, or a delta below its resolution, is refused here, before anything is
  reserved, instead of failing in the worker).

``max_epsilon_per_job`` is not checked here: the caller refuses that with PERMISSION_DENIED.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zone.products.training._checks as _checks
import zone.products.training._hyper as _hyper
from zone.catalog.metadata import DatasetMeta
from zone.catalog.product_models import TrainingProduct
from zone.catalog.store import table_name
from zone.errors import Problem, ValidationFailed
from zone.products.training.calibration import calibration_problems
from zone.products.training.request import TrainingRequest
from zone.products.training.scaling import FeatureScaling, LabelScaling

ACCOUNTANT = "prv"
METRICS_SHARE = 0.1
VALIDATION_FRACTION = 0.2  # the default holdout_fraction of a product
DEFAULT_SEED = 0  # initialisation only: public randomness, reproducible by default
MIN_STEPS_PER_EPOCH = 2  # q = 1 breaks the PRV accountant and gives no amplification
GUARANTEE = (
    "(epsilon, delta)-DP with respect to adding or removing one entity (= one row): DP-SGD "
    "(Opacus, per-example clipping, Gaussian noise) with Poisson sampling at the public sample "
    "rate, accounted by the PRV accountant for (epsilon_training, delta); plus pure "
    "epsilon_metrics-DP validation metrics (OpenDP discrete Laplace); basic composition gives "
    "epsilon_training + epsilon_metrics <= epsilon"
)
_SOURCE = "training request"


@dataclass(frozen=True)
class TrainingSpec:
    """Everything a worker needs to train, JSON-serializable; public numbers only.

    ``seed`` (default 0) initialises the model weights only: the DP randomness (Poisson sampling,
    Gaussian noise) always comes from fresh OS entropy in the worker, because a caller who knows
    the noise seed voids the guarantee. The train/validation split is fresh too, unless the
    product sets ``split_seed``: then each entity's part is a keyed hash of (``split_seed``, its
    ``entity_key`` value), the same in every job (one entity added or removed moves no other).
    ``keep_in_zone`` is carried for the caller, which decides whether the weights leave the zone.
    """

    product: str
    family: str
    dataset: str
    table: str
    db_path: str
    features: tuple[str, ...]
    label: str
    scaling: tuple[FeatureScaling, ...]
    label_scaling: LabelScaling
    epochs: int
    batch_size: int
    steps_per_epoch: int
    sample_rate: float
    expected_batch_size: float
    learning_rate: float
    max_grad_norm: float
    hidden_width: int | None
    epsilon: float
    delta: float
    epsilon_training: float
    epsilon_metrics: float
    public_row_count: int
    public_train_rows: int
    validation_fraction: float
    split_seed: int | None
    entity_key: str
    seed: int
    use_cuda: bool
    keep_in_zone: bool
    accountant: str = ACCOUNTANT
    noise_multiplier_hint: float | None = None
    """The noise multiplier an earlier job calibrated for the same public numbers, if known
    (``zone.products.training.hints``); the worker confirms it with the accountant or
    calibrates anew (``dpsgd.calibrate``). Public, and never a weaker guarantee."""

    @property
    def steps(self) -> int:
        """Total DP-SGD steps (each one Poisson-sampled batch)."""
        return self.epochs * self.steps_per_epoch

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the model inputs, in order (categorical columns expanded)."""
        return tuple(name for s in self.scaling for name in s.outputs)

    def to_json(self) -> str:
        """Canonical JSON of the spec."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["scaling"] = [s.to_dict() for s in self.scaling]
        data["label_scaling"] = self.label_scaling.to_dict()
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> TrainingSpec:
        """Parse :meth:`to_json` output, checking every field's type.

        Raises:
            ValueError: malformed JSON, a missing or unknown field, or a wrong type.
        """
        data: dict[str, Any] = json.loads(text)
        data.setdefault("noise_multiplier_hint", None)  # specs queued before the hint existed
        names = {f.name for f in dataclasses.fields(cls)}
        if set(data) != names:
            raise ValueError("training spec fields do not match")
        data["features"] = tuple(data["features"])
        if not all(isinstance(name, str) for name in data["features"]):
            raise ValueError("training spec features must be strings")
        data["scaling"] = tuple(FeatureScaling.from_dict(s) for s in data["scaling"])
        data["label_scaling"] = LabelScaling.from_dict(data["label_scaling"])
        spec = cls(**data)
        for f in dataclasses.fields(cls):
            _check_type(f.name, str(f.type), getattr(spec, f.name))
        return spec


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "int | None": (int, type(None)),
    "float | None": (float, int, type(None)),
    "tuple[str, ...]": (tuple,),
    "tuple[FeatureScaling, ...]": (tuple,),
    "LabelScaling": (LabelScaling,),
}


def _check_type(name: str, declared: str, value: object) -> None:
    allowed = _TYPES[declared]
    if isinstance(value, bool) and bool not in allowed:
        raise ValueError(f"training spec field {name} has the wrong type")
    if not isinstance(value, allowed):
        raise ValueError(f"training spec field {name} has the wrong type")


def split_epsilon(epsilon: float) -> tuple[float, float]:
    """(training, metrics) shares of ``epsilon`` whose float sum never exceeds it."""
    metrics = epsilon * METRICS_SHARE
    training = epsilon - metrics
    while training + metrics > epsilon:
        training = math.nextafter(training, 0.0)
    return training, metrics


def plan_training(
    request: TrainingRequest,
    product: TrainingProduct,
    meta: DatasetMeta,
    *,
    db_path: Path,
    public_row_count: int,
    prefer_gpu: bool = False,
) -> TrainingSpec:
    """Validate ``request`` against the product and metadata and plan the worker's job.

    Args:
        request: the caller's request.
        product: the approved training product (its id must be ``request.product``).
        meta: the metadata of the product's dataset.
        db_path: the dataset database file the worker opens read-only.
        public_row_count: the dataset's row count rounded to the public granularity.
        prefer_gpu: use CUDA when the product allows it (``allow_gpu``) and the worker has it.

    Raises:
        ValidationFailed: every problem at once (an InvalidArgument); nothing was touched.
    """
    if isinstance(public_row_count, bool) or not isinstance(public_row_count, int):
        raise TypeError("public_row_count must be an int")
    problems: list[str] = []
    if request.product != product.id:
        problems.append("the request names another product")
    scaling, label = _checks.columns(request, product, meta, problems)
    given = {name: getattr(request, name) for name in _hyper.ORDER}
    hyper, hyper_problems = _hyper.resolve(given, product)
    problems += hyper_problems
    _checks.privacy(request, public_row_count, problems)
    train_rows = math.floor(public_row_count * (1 - product.holdout_fraction))
    steps = 0
    if public_row_count <= 0:
        problems.append("the dataset is too small to train on (public row count 0)")
    elif hyper is not None:
        steps = max(1, round(train_rows / hyper.batch_size))
        if steps < MIN_STEPS_PER_EPOCH:
            largest = math.floor(train_rows / 1.5)
            problems.append(
                f"batch_size {hyper.batch_size} is too large for this dataset (about "
                f"{train_rows} training rows): at most {largest}"
            )
    if not problems and hyper is not None:  # epsilon, delta and steps are valid
        problems += calibration_problems(
            epsilon=float(request.epsilon),
            epsilon_training=split_epsilon(float(request.epsilon))[0],
            training_share=1 - METRICS_SHARE,
            delta=float(request.delta),
            sample_rate=1 / steps,
            steps=hyper.epochs * steps,
        )
    seed = DEFAULT_SEED if request.seed is None else request.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        problems.append("seed must be an integer in [0, 2**63)")
    if problems or hyper is None or label is None:
        raise ValidationFailed([Problem(_SOURCE, None, p) for p in problems], what=_SOURCE)
    epsilon_training, epsilon_metrics = split_epsilon(float(request.epsilon))
    sample_rate = 1 / steps
    return TrainingSpec(
        product=product.id,
        family=product.family,
        dataset=product.dataset,
        table=table_name(product.dataset),
        db_path=str(db_path),
        features=tuple(s.column for s in scaling),
        label=label.column,
        scaling=scaling,
        label_scaling=label,
        epochs=hyper.epochs,
        batch_size=hyper.batch_size,
        steps_per_epoch=steps,
        sample_rate=sample_rate,
        expected_batch_size=train_rows * sample_rate,
        learning_rate=hyper.learning_rate,
        max_grad_norm=hyper.max_grad_norm,
        hidden_width=hyper.hidden_width,
        epsilon=float(request.epsilon),
        delta=float(request.delta),
        epsilon_training=epsilon_training,
        epsilon_metrics=epsilon_metrics,
        public_row_count=public_row_count,
        public_train_rows=train_rows,
        validation_fraction=float(product.holdout_fraction),
        split_seed=product.split_seed,
        entity_key=meta.entity_key,
        seed=seed,
        use_cuda=bool(prefer_gpu and product.allow_gpu),
        keep_in_zone=bool(request.keep_in_zone),
    )
