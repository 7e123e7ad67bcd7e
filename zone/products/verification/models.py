"""Linear scoring models: the one approved with a product, or a kept model of the caller's.

Either way the model becomes a :class:`ScoreModel`: caller features (encrypted by the caller,
scaled by its SDK with public bounds) with their weights, and zone features (scaled by the zone
with the dataset's public bounds, exactly as training scales them) with theirs.

* The product's ``score_model`` (approved by an administrator in ``models/*.yaml``).
* A ``keep_in_zone`` model from the registry, owned by the caller, trained by a training product
  on the same dataset, linear (logistic or linear regression), reading only the product's
  ``score_features``. It has zone features only: the caller sends no ciphertexts and receives
  the encrypted logit of each subject.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from zone.catalog import (
    DatasetMeta,
    JointTrainingProduct,
    Product,
    TrainingProduct,
    VerificationProduct,
)
from zone.catalog._verification import CallerFeature, scoring_problems
from zone.errors import FailedPrecondition, InvalidArgument
from zone.models.registry import ModelRecord
from zone.products.training.scaling import FeatureScaling
from zone.products.verification.records import ProductRecords

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

PRODUCT_MODEL = "product"
"""The model reference of a product's own approved model."""
_LINKS: dict[str, Literal["logit", "identity"]] = {
    "logistic_regression": "logit",
    "linear_regression": "identity",
}


@dataclass(frozen=True)
class ScoreModel:
    """A linear model ready to score: ``intercept + w . x_caller + v . x_zone``.

    Attributes:
        ref: ``product`` or the registry model id (the query budget is kept per ref).
        link: ``logit`` or ``identity`` (applied by the caller).
        caller_features: Encrypted inputs, in the order the caller sends them.
        caller_weights: One per caller feature.
        zone_features: How the zone builds its inputs from the dataset.
        zone_weights: One per zone input.
        intercept: The intercept.
        noise_stddev: Flooding noise added to every logit.
    """

    ref: str
    link: Literal["logit", "identity"]
    caller_features: tuple[CallerFeature, ...]
    caller_weights: tuple[float, ...]
    zone_features: tuple[FeatureScaling, ...]
    zone_weights: tuple[float, ...]
    intercept: float
    noise_stddev: float

    def zone_part(self, records: ProductRecords, rows: I64) -> tuple[F64, Flags]:
        """``intercept + v . x_zone`` per subject, and which subjects have every input.

        A subject not in the dataset, or with a NULL zone feature, has no zone part.
        """
        total = np.full(len(rows), self.intercept)
        complete = rows >= 0
        for scaling, weight in zip(self.zone_features, self.zone_weights, strict=True):
            values = records.values(scaling.column, rows)
            complete &= np.isfinite(values)
            total += weight * _scaled(scaling, np.nan_to_num(values))
        return np.where(complete, total, 0.0), complete


def rule_problems(model: ScoreModel, product: VerificationProduct) -> list[str]:
    """Why ``model`` may not score for ``product`` under its scoring rules (empty: it may).

    Checked when an administrator approves a kept model and again at every Score with it, so
    an approval given before a rule existed, or before the product's rules were tightened,
    does not outlive the rule.
    """
    weights: dict[str, float] = {}
    for scaling, weight in zip(model.zone_features, model.zone_weights, strict=True):
        # A column named twice moves the score by both weights: count them together.
        weights[scaling.column] = weights.get(scaling.column, 0.0) + abs(weight)
    return scoring_problems(
        weights,
        min_zone_features=product.min_zone_features,
        max_zone_feature_share=product.max_zone_feature_share,
        max_zone_weight=product.max_zone_weight,
    )


def require_rules(model: ScoreModel, product: VerificationProduct) -> None:
    """Refuse to score with a model that breaks the product's rules (:func:`rule_problems`).

    Raises:
        FailedPrecondition: every problem, reason ``scoring_rules``.
    """
    problems = rule_problems(model, product)
    if problems:
        raise FailedPrecondition(
            "the model breaks the product's scoring rules: " + "; ".join(problems),
            reason="scoring_rules",
        )


def _scaled(scaling: FeatureScaling, values: F64) -> F64:
    if scaling.bounds is None:  # boolean: 0 or 1
        return np.clip(values, 0.0, 1.0)
    low, high = scaling.bounds
    return (np.clip(values, low, high) - low) / (high - low)


def product_model(product: VerificationProduct, meta: DatasetMeta) -> ScoreModel:
    """The model approved with ``product``.

    Raises:
        FailedPrecondition: the product has no scoring model.
    """
    spec = product.score_model
    if spec is None:
        raise FailedPrecondition("this product has no scoring model", reason="no_score_model")
    zone = []
    for name in spec.zone_features:
        scaling = FeatureScaling.from_meta(name, meta.columns[name])
        if scaling is None or scaling.kind == "categorical":  # pragma: no cover - load checks
            raise FailedPrecondition("the scoring model cannot scale a feature")
        zone.append(scaling)
    return ScoreModel(
        ref=PRODUCT_MODEL,
        link=spec.link,
        caller_features=spec.caller_features,
        caller_weights=tuple(spec.weights[f.name] for f in spec.caller_features),
        zone_features=tuple(zone),
        zone_weights=tuple(spec.weights[name] for name in spec.zone_features),
        intercept=spec.intercept,
        noise_stddev=max(spec.noise_stddev, product.score_resolution),
    )


def _unusable() -> InvalidArgument:
    return InvalidArgument(
        "this model cannot be used with this product (it must be a linear model trained on "
        "the product's dataset from its score features)",
        reason="model_not_usable",
    )


def _floats(values: Any) -> tuple[float, ...]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise _unusable()
    out = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in out):
        raise _unusable()
    return out


def registry_model(
    record: ModelRecord, product: VerificationProduct, products: Mapping[str, Product]
) -> ScoreModel:
    """A kept model of the caller's, checked usable with ``product``.

    Raises:
        InvalidArgument: not linear, trained on another dataset, or reading columns the
            product does not allow.
    """
    model = record.model
    trained_by = products.get(record.product)
    link = _LINKS.get(str(model.get("family")))
    if isinstance(trained_by, JointTrainingProduct) and trained_by.dataset == product.dataset:
        return _joint_model(record, product)
    if not isinstance(trained_by, TrainingProduct) or trained_by.dataset != product.dataset:
        raise _unusable()
    if link is None:
        raise _unusable()
    try:
        scaling = tuple(FeatureScaling.from_dict(dict(s)) for s in model["scaling"]["features"])
        weights = _floats(model["weights"])
        intercept = float(model["intercept"])
    except (KeyError, TypeError, ValueError):
        raise _unusable() from None
    columns_ok = all(
        s.kind in ("numeric", "boolean") and s.column in product.score_features for s in scaling
    )
    if not columns_ok or len(weights) != len(scaling) or not math.isfinite(intercept):
        raise _unusable()
    return ScoreModel(
        ref=record.model_id,
        link=link,
        caller_features=(),
        caller_weights=(),
        zone_features=scaling,
        zone_weights=weights,
        intercept=intercept,
        noise_stddev=product.score_resolution,
    )


def _joint_model(record: ModelRecord, product: VerificationProduct) -> ScoreModel:
    """A kept joint model: the operator's inputs become caller features, sent encrypted.

    Numeric operator features keep their declared bounds (the caller's SDK scales with them),
    boolean ones [0, 1]; zone features must be numeric or boolean score features of the
    product. The missing indicator is dropped: a subject without complete zone data is
    MISSING_DATA, as for every model. Categorical features on either side are not servable.
    """
    model = record.model
    link = _LINKS.get(str(model.get("family")))
    try:
        scaling = model["scaling"]
        zone = tuple(FeatureScaling.from_dict(dict(s)) for s in scaling["zone"])
        operator = tuple(FeatureScaling.from_dict(dict(s)) for s in scaling["operator"])
        weights = dict(zip(scaling["inputs"], _floats(model["weights"]), strict=True))
        intercept = float(model["intercept"])
        zone_weights = tuple(weights[f"zone.{s.column}"] for s in zone)
        caller_weights = tuple(weights[f"operator.{s.column}"] for s in operator)
        callers = tuple(
            CallerFeature(name=s.column, bounds=s.bounds or (0.0, 1.0)) for s in operator
        )
    except (KeyError, TypeError, ValueError):
        raise _unusable() from None
    servable = all(s.kind in ("numeric", "boolean") for s in (*zone, *operator))
    if link is None or not servable or not math.isfinite(intercept):
        raise _unusable()
    if not all(s.column in product.score_features for s in zone):
        raise _unusable()
    return ScoreModel(
        ref=record.model_id,
        link=link,
        caller_features=callers,
        caller_weights=caller_weights,
        zone_features=zone,
        zone_weights=zone_weights,
        intercept=intercept,
        noise_stddev=product.score_resolution,
    )
