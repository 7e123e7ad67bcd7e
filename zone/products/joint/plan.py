"""A joint training job's plan: public numbers only, checked before any data is read.

The guarantee (also in every result and receipt, ``GUARANTEE``): the protected party is the
zone's subjects. Two joined training tables are neighbours when they differ in the zone part of
one cohort row (one subject's zone values changed, or the subject present in the dataset or
not): **replace-one** on the zone side. The cohort itself (which keys, labels and operator
features) is the operator's and is the same on both sides; the sample rate and the number of
steps come from the cohort's size, which the operator knows, never from the join.

Accounting: **charged at twice the add/remove epsilon** (group privacy). DP-SGD (Opacus, PRV
accountant) is calibrated for add/remove at ``(epsilon_dpsgd, delta_dpsgd)``; replacing one
row's zone part is removing that row and adding it back changed, so the training is
``(2 epsilon_dpsgd, (1 + e^epsilon_dpsgd) delta_dpsgd)``-DP for replace-one (group privacy of
size 2, e.g. Dwork and Roth 2014, Theorem 2.2 and its approximate form). The DP metrics are
accounted directly for replace-one (one row changes each released count by at most its stated
sensitivity). Of the requested ``(epsilon, delta)``: ``METRICS_SHARE`` (10%) of epsilon goes
to the metrics, half of the rest is ``epsilon_dpsgd``; ``delta_dpsgd = delta / (1 +
e^epsilon_dpsgd)``. So ``2 epsilon_dpsgd + epsilon_metrics <= epsilon`` and ``(1 +
e^epsilon_dpsgd) delta_dpsgd <= delta``. Accounting replace-one with the sensitivity doubled
(noise calibrated for 2C) would also be sound for the plain Gaussian mechanism but needs a
substitution analysis of Poisson subsampling that Opacus does not provide; the factor 2 is the
conservative, checkable choice (its cost on UCI Adult: benchmarks/bench_joint.py).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zone.products.training._hyper as _hyper
from zone.catalog import DatasetMeta, JointTrainingProduct
from zone.catalog.store import table_name
from zone.errors import Problem, ValidationFailed
from zone.products.joint.schema import CohortSchema, OperatorFeature
from zone.products.joint.store import CohortInfo
from zone.products.training._checks import MAX_DELTA, MAX_EPSILON
from zone.products.training.scaling import FeatureScaling, LabelScaling
from zone.products.training.spec import (
    ACCOUNTANT,
    DEFAULT_SEED,
    METRICS_SHARE,
    MIN_STEPS_PER_EPOCH,
    VALIDATION_FRACTION,
    TrainingSpec,
)

MISSING = "zone.missing"
GUARANTEE = (
    "(epsilon, delta)-DP for the zone's subjects under replace-one neighbouring (joined tables "
    "that differ in the zone part of one cohort row: values changed, or present vs absent). "
    "DP-SGD (Opacus: per-example clipping, Gaussian noise, Poisson sampling at a rate fixed by "
    "the cohort's size) is calibrated by the PRV accountant for add/remove at (epsilon_dpsgd, "
    "delta_dpsgd); group privacy over the two add/remove steps of a replacement gives "
    "(2 epsilon_dpsgd, (1 + e^epsilon_dpsgd) delta_dpsgd); the DP metrics (OpenDP discrete "
    "Laplace, replace-one sensitivities) add epsilon_metrics; basic composition: at most "
    "(epsilon, delta). The operator's own labels and features get no DP against the operator."
)
ACCOUNTING = "replace-one charged as 2 x add/remove epsilon (group privacy of size 2)"
_SOURCE = "joint training request"


@dataclass(frozen=True)
class JointRequest:
    """What a caller asks for; None means "use the default"."""

    product: str
    upload_id: str
    epsilon: float
    delta: float
    zone_features: tuple[str, ...] = ()
    operator_features: tuple[str, ...] = ()
    no_operator_features: bool = False
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_grad_norm: float | None = None
    seed: int | None = None
    keep_in_zone: bool = False
    keep_cohort: bool = False


@dataclass(frozen=True)
class _Hyperable:
    id: str
    family: str
    bounds: dict[Any, tuple[float, float]]


@dataclass(frozen=True)
class JointSpec:
    """Everything the worker needs (JSON), public numbers and names only.

    ``training`` is the DP-SGD core (its ``epsilon_training``/``delta`` are the add/remove
    ``epsilon_dpsgd``/``delta_dpsgd``); ``epsilon``/``delta`` are the replace-one totals.
    """

    training: TrainingSpec
    upload_id: str
    upload_digest: str
    cohort_path: str
    work_dir: str
    key_column: str
    key_case: str
    integer_key: bool
    zone_scaling: tuple[FeatureScaling, ...]
    operator_scaling: tuple[FeatureScaling, ...]
    operator_columns: tuple[int, ...]
    label: LabelScaling
    cohort_rows: int
    epsilon: float
    delta: float
    epsilon_dpsgd: float
    delta_dpsgd: float
    epsilon_metrics: float

    @property
    def input_names(self) -> tuple[str, ...]:
        """Model inputs in order: zone inputs, the missing indicator, operator inputs."""
        zone = (f"zone.{name}" for s in self.zone_scaling for name in s.outputs)
        operator = (f"operator.{name}" for s in self.operator_scaling for name in s.outputs)
        return (*zone, MISSING, *operator)

    def to_json(self) -> str:
        """Canonical JSON."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["training"] = json.loads(self.training.to_json())
        data["zone_scaling"] = [s.to_dict() for s in self.zone_scaling]
        data["operator_scaling"] = [s.to_dict() for s in self.operator_scaling]
        data["label"] = self.label.to_dict()
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> JointSpec:
        """Parse :meth:`to_json` output.

        Raises:
            ValueError: malformed, or a field missing or unknown.
        """
        data: dict[str, Any] = json.loads(text)
        if set(data) != {f.name for f in dataclasses.fields(cls)}:
            raise ValueError("joint spec fields do not match")
        data["training"] = TrainingSpec.from_json(json.dumps(data["training"]))
        data["zone_scaling"] = tuple(FeatureScaling.from_dict(s) for s in data["zone_scaling"])
        data["operator_scaling"] = tuple(
            FeatureScaling.from_dict(s) for s in data["operator_scaling"]
        )
        data["operator_columns"] = tuple(int(i) for i in data["operator_columns"])
        data["label"] = LabelScaling.from_dict(data["label"])
        return cls(**data)

    def public(self) -> dict[str, Any]:
        """What the job record shows (and its audit record carries): no paths."""
        return {
            "upload_id": self.upload_id,
            "upload_digest": self.upload_digest,
            "family": self.training.family,
            "inputs": list(self.input_names),
            "epochs": self.training.epochs,
            "batch_size": self.training.batch_size,
            "steps": self.training.steps,
            "sample_rate": self.training.sample_rate,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "epsilon_dpsgd": self.epsilon_dpsgd,
            "delta_dpsgd": self.delta_dpsgd,
            "epsilon_metrics": self.epsilon_metrics,
            "accounting": ACCOUNTING,
        }


def split_budget(epsilon: float, delta: float) -> tuple[float, float, float]:
    """(epsilon_dpsgd, delta_dpsgd, epsilon_metrics) of a replace-one (epsilon, delta)."""
    metrics = epsilon * METRICS_SHARE
    dpsgd = (epsilon - metrics) / 2
    while 2 * dpsgd + metrics > epsilon:
        dpsgd = math.nextafter(dpsgd, 0.0)
    delta_dpsgd = delta / (1 + math.exp(dpsgd))
    while (1 + math.exp(dpsgd)) * delta_dpsgd > delta:
        delta_dpsgd = math.nextafter(delta_dpsgd, 0.0)
    return dpsgd, delta_dpsgd, metrics


def _operator_scaling(feature: OperatorFeature) -> FeatureScaling:
    if feature.type in ("integer", "float"):
        return FeatureScaling(feature.name, "numeric", bounds=feature.bounds)
    if feature.type == "boolean":
        return FeatureScaling(feature.name, "boolean")
    return FeatureScaling(feature.name, "categorical", domain=feature.domain)


def _label(schema: CohortSchema) -> LabelScaling:
    if schema.label.kind == "binary":
        return LabelScaling(schema.label.column, "binary", classes=schema.label.classes)
    return LabelScaling(schema.label.column, "bounded", bounds=schema.label.bounds)


def _select(
    asked: tuple[str, ...], offered: tuple[str, ...], what: str, problems: list[str]
) -> tuple[str, ...]:
    if len(set(asked)) != len(asked):
        problems.append(f"{what} must be unique")
    outside = [name for name in asked if name not in offered]
    if outside:
        problems.append(f"{what} not offered: {', '.join(map(repr, outside))}")
    return tuple(dict.fromkeys(asked)) if asked else offered


def _privacy(request: JointRequest, rows: int, problems: list[str]) -> None:
    epsilon, delta = request.epsilon, request.delta
    real = [
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (epsilon, delta)
    ]
    if not real[0] or not 0 < epsilon <= MAX_EPSILON:
        problems.append(f"epsilon must be a finite number in (0, {MAX_EPSILON:g}]")
    if not real[1] or not 0 < delta <= MAX_DELTA:
        problems.append(f"delta must be a number in (0, {MAX_DELTA:g}]")
    elif not delta < 1 / rows:
        problems.append(f"delta must be below 1 / (cohort rows {rows}) = {1 / rows:.3g}")


def plan_joint(
    request: JointRequest,
    product: JointTrainingProduct,
    meta: DatasetMeta,
    cohort: CohortInfo,
    *,
    db_path: Path,
    cohort_path: Path,
    work_dir: Path,
) -> JointSpec:
    """Validate ``request`` against the product, the metadata and the cohort; plan the job.

    Raises:
        ValidationFailed: every problem at once (nothing was touched).
    """
    problems: list[str] = []
    schema = cohort.schema
    if request.product != product.id or cohort.product != product.id:
        problems.append("the request, the product and the cohort must name the same product")
    family = schema.label.family
    if family not in product.families:
        problems.append(f"product {product.id!r} does not train {family}")
    zone_names = _select(request.zone_features, product.zone_features, "zone features", problems)
    own = tuple(f.name for f in schema.features)
    operator_names = (
        ()
        if request.no_operator_features
        else _select(request.operator_features, own, "operator features", problems)
    )
    zone = [FeatureScaling.from_meta(name, meta.columns[name]) for name in zone_names]
    if any(s is None for s in zone):  # pragma: no cover - products are checked at load
        problems.append("a zone feature has no public scaling")
    given = {
        "epochs": request.epochs,
        "batch_size": request.batch_size,
        "learning_rate": request.learning_rate,
        "max_grad_norm": request.max_grad_norm,
    }
    hyper, hyper_problems = _hyper.resolve(
        given, _Hyperable(product.id, family, dict(product.bounds))
    )
    problems += hyper_problems
    _privacy(request, cohort.rows, problems)
    train_rows = math.floor(cohort.rows * (1 - VALIDATION_FRACTION))
    steps = max(1, round(train_rows / hyper.batch_size)) if hyper else 0
    if hyper is not None and steps < MIN_STEPS_PER_EPOCH:
        problems.append(f"batch_size {hyper.batch_size} is too large for {train_rows} rows")
    seed = DEFAULT_SEED if request.seed is None else request.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        problems.append("seed must be an integer in [0, 2**63)")
    if request.keep_in_zone and not product.allow_keep_in_zone:
        problems.append(f"product {product.id!r} does not keep models in the zone")
    if problems or hyper is None:
        raise ValidationFailed([Problem(_SOURCE, None, p) for p in problems], what=_SOURCE)
    eps_dpsgd, delta_dpsgd, eps_metrics = split_budget(float(request.epsilon), request.delta)
    label = _label(schema)
    features = {f.name: (i, f) for i, f in enumerate(schema.features)}
    training = TrainingSpec(
        product=product.id,
        family=family,
        dataset=product.dataset,
        table=table_name(product.dataset),
        db_path=str(db_path),
        features=(),
        label=label.column,
        scaling=(),
        label_scaling=label,
        epochs=hyper.epochs,
        batch_size=hyper.batch_size,
        steps_per_epoch=steps,
        sample_rate=1 / steps,
        expected_batch_size=train_rows / steps,
        learning_rate=hyper.learning_rate,
        max_grad_norm=hyper.max_grad_norm,
        hidden_width=None,
        epsilon=eps_dpsgd,
        delta=delta_dpsgd,
        epsilon_training=eps_dpsgd,
        epsilon_metrics=0.0,
        public_row_count=cohort.rows,
        public_train_rows=train_rows,
        validation_fraction=VALIDATION_FRACTION,
        split_seed=None,
        entity_key=product.key,
        seed=seed,
        use_cuda=False,
        keep_in_zone=request.keep_in_zone,
        accountant=ACCOUNTANT,
    )
    return JointSpec(
        training=training,
        upload_id=cohort.upload_id,
        upload_digest=cohort.digest,
        cohort_path=str(cohort_path),
        work_dir=str(work_dir),
        key_column=product.key,
        key_case=product.key_format.case,
        integer_key=meta.columns[product.key].type == "integer",
        zone_scaling=tuple(s for s in zone if s is not None),
        operator_scaling=tuple(_operator_scaling(features[n][1]) for n in operator_names),
        operator_columns=tuple(features[n][0] for n in operator_names),
        label=label,
        cohort_rows=cohort.rows,
        epsilon=float(request.epsilon),
        delta=float(request.delta),
        epsilon_dpsgd=eps_dpsgd,
        delta_dpsgd=delta_dpsgd,
        epsilon_metrics=eps_metrics,
    )
