"""The ``joint_training`` product kind: operators train on their own labels joined with a dataset.

An administrator approves, per dataset, what a joint training job may do (``models/*.yaml``)::

    id: adult-joint
    kind: joint_training
    dataset: adult
    description: Income model on an operator's cohort joined with the census extract
    key: person_id                       # the dataset's entity key: the join key
    key_format: {case: upper, pattern: "^[0-9A-Z]{1,18}$"}
    zone_features: [workclass, marital_status, occupation, capital_gain]
    families: [logistic_regression, linear_regression]
    bounds: {epochs: [1, 30], batch_size: [64, 4096], learning_rate: [0.01, 5.0]}
    max_epsilon_per_job: 2.0
    min_cohort_rows: 1000                 # a tiny cohort is a lookup: refused
    retention_hours: 72                   # uploads are erased at the latest after this
    match_count_epsilon: 0.01             # EstimateCost may release a DP matched count

``key_format`` says how keys are normalised on both sides before the join (surrounding
whitespace stripped, then ``case`` applied; integer keys as their decimal text) and which
normalised operator keys are acceptable (``pattern``, e.g. the 18 characters of a credit code).
Checks against the dataset (``joint_problems``): the key is the entity key, the zone features
exist, are not L4, not the key, and are scalable from public facts (boolean, numeric with
bounds, or a public domain).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)

from zone.catalog._fields import (
    STRICT_FROZEN,
    ColumnList,
    ColumnName,
    DatasetName,
    NonEmptyStr,
    ProductId,
    as_tuple,
)
from zone.catalog.metadata import DatasetMeta

JointFamily = Literal["logistic_regression", "linear_regression"]
JointParameter = Literal["epochs", "batch_size", "learning_rate", "max_grad_norm"]
INTEGER_JOINT_PARAMETERS = frozenset({"epochs", "batch_size"})
MAX_KEY_LENGTH = 256


def _range(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise ValueError("bounds must be [low, high] with 0 < low <= high")
    return value


def _pattern(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        re.compile(value)
    except re.error:
        raise ValueError("pattern is not a valid regular expression") from None
    return value


def _families(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value or len(set(value)) != len(value):
        raise ValueError("list at least one family, each once")
    return value


def _non_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must list at least one entry")
    return value


Range = Annotated[tuple[float, float], BeforeValidator(as_tuple), AfterValidator(_range)]


class KeyFormat(BaseModel):
    """How keys are normalised before the join, and which operator keys are acceptable.

    Attributes:
        case: ``upper``, ``lower`` or ``preserve``: the case keys are compared in (both sides).
        pattern: A regular expression every normalised operator key must match in full.
        max_length: Longest key accepted.
    """

    model_config = STRICT_FROZEN

    case: Literal["upper", "lower", "preserve"] = "preserve"
    pattern: Annotated[str | None, AfterValidator(_pattern)] = None
    """A regular expression every normalised operator key must match in full."""
    max_length: Annotated[int, Field(ge=1, le=MAX_KEY_LENGTH)] = 64


class JointTrainingProduct(BaseModel):
    """DP training on an operator's cohort (key, label, own features) joined in the zone.

    Attributes:
        id: Product id, unique in the zone.
        dataset: The zone dataset the cohort is joined with.
        description: What the product is for (shown in the catalog).
        kind: ``joint_training``.
        key: The dataset's entity key: the column cohort keys are joined on.
        key_format: How keys are normalised and which operator keys are accepted.
        zone_features: Zone columns a job may use (numeric with public bounds, boolean, or
            categorical with a domain).
        families: Model families allowed (``logistic_regression``, ``linear_regression``).
        bounds: Hyperparameter ranges a job may ask for.
        max_epsilon_per_job: Largest epsilon one job may spend (charged as twice the
            add/remove epsilon: replace-one on the zone's subjects).
        min_cohort_rows: Smallest cohort accepted (a tiny cohort is a lookup).
        max_cohort_rows: Largest cohort accepted.
        max_operator_features: Most operator features a cohort may declare.
        retention_hours: How long a stored cohort is kept before it is erased.
        match_count_epsilon: Epsilon of the DP count of matched subjects EstimateCost may
            release (None: not offered).
        allow_keep_in_zone: Whether jobs may keep their model in the zone (for Score).
    """

    model_config = STRICT_FROZEN

    id: ProductId
    dataset: DatasetName
    description: NonEmptyStr
    kind: Literal["joint_training"]
    key: ColumnName
    key_format: KeyFormat = KeyFormat()
    zone_features: Annotated[ColumnList, AfterValidator(_non_empty)]
    families: Annotated[
        tuple[JointFamily, ...], BeforeValidator(as_tuple), AfterValidator(_families)
    ]
    bounds: dict[JointParameter, Range] = Field(default_factory=dict)
    max_epsilon_per_job: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    min_cohort_rows: Annotated[int, Field(ge=100)] = 1000
    max_cohort_rows: Annotated[int, Field(ge=100, le=50_000_000)] = 5_000_000
    max_operator_features: Annotated[int, Field(ge=0, le=256)] = 32
    retention_hours: Annotated[float, Field(gt=0, le=24 * 366, allow_inf_nan=False)] = 72.0
    match_count_epsilon: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    """Epsilon of the DP count of matched subjects EstimateCost may release (None: not offered)."""
    allow_keep_in_zone: bool = True

    @field_validator("bounds")
    @classmethod
    def _integer_bounds(
        cls, value: dict[JointParameter, tuple[float, float]]
    ) -> dict[JointParameter, tuple[float, float]]:
        for key, (low, high) in value.items():
            if key in INTEGER_JOINT_PARAMETERS and not (low.is_integer() and high.is_integer()):
                raise ValueError(f"{key}: bounds must be integers")
        return value

    @field_validator("max_cohort_rows")
    @classmethod
    def _rows_ordered(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_cohort_rows")
        if low is not None and value < low:
            raise ValueError("max_cohort_rows must be at least min_cohort_rows")
        return value


def _scalable(meta: DatasetMeta, name: str) -> bool:
    column = meta.columns[name]
    if column.type == "boolean":
        return True
    if column.is_numeric:
        return column.bounds is not None
    return column.public_domain is not None


Where = tuple[str | int, ...]


def joint_problems(product: JointTrainingProduct, meta: DatasetMeta) -> list[tuple[Where, str]]:
    """(where, message) for every rule the product breaks against its dataset's metadata."""
    problems: list[tuple[Where, str]] = []
    if product.key != meta.entity_key:
        problems.append((("key",), f"key must be the dataset's entity key {meta.entity_key!r}"))
    for i, name in enumerate(product.zone_features):
        if name == product.key:
            problems.append((("zone_features", i), "the key cannot be a zone feature"))
        elif not _scalable(meta, name):
            message = f"zone feature {name!r} needs public bounds (numeric) or a public domain"
            problems.append((("zone_features", i), message))
    return problems


def joint_parameters(product: JointTrainingProduct) -> dict[str, object]:
    """The approved parameters as JSON-able data (what DescribeProduct shows)."""
    return {
        "key": product.key,
        "key_format": product.key_format.model_dump(),
        "zone_features": list(product.zone_features),
        "families": list(product.families),
        "bounds": {key: [float(low), float(high)] for key, (low, high) in product.bounds.items()},
        "max_epsilon_per_job": float(product.max_epsilon_per_job),
        "min_cohort_rows": product.min_cohort_rows,
        "max_cohort_rows": product.max_cohort_rows,
        "max_operator_features": product.max_operator_features,
        "retention_hours": float(product.retention_hours),
        "match_count_epsilon": product.match_count_epsilon,
        "allow_keep_in_zone": product.allow_keep_in_zone,
        "neighbouring": "replace-one zone subject (one cohort row's zone values)",
    }
