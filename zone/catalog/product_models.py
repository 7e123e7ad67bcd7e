"""Schemas of approved products (``models/*.yaml``), one pydantic model per ``kind``.

These models check each file on its own; ``zone.catalog.products.load_products`` then checks
every product against its dataset's metadata.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
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
from zone.catalog._joint import JointTrainingProduct
from zone.catalog._training import FeatureTransform, Transform
from zone.catalog._verification import (
    Claim,
    Membership,
    ScoreModelSpec,
    VerificationLimits,
    scoring_problems,
)
from zone.consent.terms import ConsentMode

Measure = Literal["count", "sum", "mean", "histogram", "quantile"]
Family = Literal["logistic_regression", "linear_regression", "mlp"]
HyperParameter = Literal["epochs", "batch_size", "learning_rate", "max_grad_norm", "hidden_width"]
INTEGER_PARAMETERS = frozenset({"epochs", "batch_size", "hidden_width"})
NUMERIC_MEASURES = frozenset({"sum", "mean", "quantile"})

Epsilon = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _positive_range(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise ValueError("bounds must be [low, high] with 0 < low <= high")
    return value


Range = Annotated[tuple[float, float], BeforeValidator(as_tuple), AfterValidator(_positive_range)]


def _non_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must list at least one entry")
    return value


def _unique_measures(value: tuple[Measure, ...]) -> tuple[Measure, ...]:
    if not value:
        raise ValueError("must list at least one entry")
    if len(set(value)) != len(value):
        raise ValueError("entries must be unique")
    return value


class _ProductBase(BaseModel):
    """What every product file declares.

    Attributes:
        id: The product's id, unique across ``models/`` (``[a-z0-9][a-z0-9-]*``): what grants
            name and callers ask for.
        dataset: The imported dataset it reads (its metadata decides what the product may do).
        description: What it offers, shown in the catalog.
    """

    model_config = STRICT_FROZEN

    id: ProductId
    dataset: DatasetName
    description: NonEmptyStr


class StatisticsProduct(_ProductBase):
    """DP aggregates (count, sum, mean, histogram, quantile) over columns, grouped by keys.

    Attributes:
        kind: ``statistics``.
        columns: Columns callers may measure, filter on or group by (never L4; numeric ones
            measured by sum, mean or quantile need public bounds).
        group_by: Columns callers may group by (among ``columns``; each needs a public domain
            unless ``key_selection``).
        measures: The measures offered.
        max_epsilon_per_query: Largest epsilon one query may spend (a grant's
            ``per_job_epsilon`` may lower it).
        key_selection: Allow grouping by columns without a public domain: keys are then
            released only through DP key selection, which spends delta.
    """

    kind: Literal["statistics"]
    columns: Annotated[ColumnList, AfterValidator(_non_empty)]
    group_by: ColumnList = ()
    measures: Annotated[
        tuple[Measure, ...], BeforeValidator(as_tuple), AfterValidator(_unique_measures)
    ]
    max_epsilon_per_query: Epsilon
    # Group keys without a public domain are released only through DP key selection.
    key_selection: bool = False

    @field_validator("group_by")
    @classmethod
    def _group_by_within_columns(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        columns = info.data.get("columns")
        if columns is not None:
            outside = [name for name in value if name not in columns]
            if outside:
                raise ValueError(f"group_by columns must be among columns: {outside}")
        return value


class TrainingProduct(_ProductBase):
    """DP training (DP-SGD) of a model family on features to predict a label.

    Attributes:
        kind: ``training``.
        family: The model: ``logistic_regression`` (label with a two-value public domain or
            bounds [0, 1]), ``linear_regression`` (numeric label with bounds) or ``mlp``.
        label: The column predicted.
        features: Columns the model reads (boolean, numeric with bounds, or with a public
            domain, one-hot encoded); a job may ask for a subset.
        bounds: Approved ``[low, high]`` per hyperparameter (``epochs``, ``batch_size``,
            ``learning_rate``, ``max_grad_norm``, ``hidden_width``): a caller may set only
            those listed, within them; the others take the zone's defaults.
        max_epsilon_per_job: Largest epsilon one job may spend (a grant's ``per_job_epsilon``
            may lower it).
        allow_gpu: Train on a GPU when the zone has one.
    """

    kind: Literal["training"]
    family: Family
    label: ColumnName
    features: Annotated[ColumnList, AfterValidator(_non_empty)]
    bounds: dict[HyperParameter, Range] = Field(default_factory=dict)
    max_epsilon_per_job: Epsilon
    allow_gpu: bool = False
    transforms: dict[ColumnName, Transform] = Field(
        default_factory=dict,
        description=(
            "Public, data-independent transforms of features, by feature name (e.g. "
            "{capital_gain: log1p, age: {kind: scale, clip: [17, 90]}, education_num: "
            "{kind: one_hot}}). A feature without one is scaled from the metadata: numeric "
            "columns clipped to their bounds and mapped to [0, 1], booleans 0/1, columns with a "
            "domain one-hot. Transforms are released with the model."
        ),
    )
    holdout_fraction: Annotated[float, Field(gt=0, le=0.5, allow_inf_nan=False)] = Field(
        default=0.2,
        description=(
            "Share of the rows held out (inside the zone) for the DP validation metrics; the "
            "rest trains the model. The sample rate is computed from the public row count "
            "times (1 - holdout_fraction)."
        ),
    )
    split_seed: Annotated[int, Field(ge=0, lt=2**53)] | None = Field(
        default=None,
        description=(
            "Seed of the holdout split (an integer below 2**53). Unset (the default): every "
            "job draws a fresh split "
            "from OS entropy. Set: each entity goes to the holdout by a keyed hash of "
            "(split_seed, entity key), so every job of the product validates on the same "
            "entities (comparable metrics). Either way the split stays inside the zone and "
            "one entity added or removed moves no other entity between the parts."
        ),
    )

    @field_validator("features")
    @classmethod
    def _label_not_a_feature(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if info.data.get("label") in value:
            raise ValueError("the label cannot also be a feature")
        return value

    @field_validator("transforms")
    @classmethod
    def _transforms_of_features(
        cls, value: dict[str, FeatureTransform], info: ValidationInfo
    ) -> dict[str, FeatureTransform]:
        features = info.data.get("features")
        if features is not None:
            outside = [name for name in value if name not in features]
            if outside:
                raise ValueError(f"transforms must name features: {outside}")
        return value

    @field_validator("bounds")
    @classmethod
    def _check_bounds(
        cls, value: dict[HyperParameter, tuple[float, float]], info: ValidationInfo
    ) -> dict[HyperParameter, tuple[float, float]]:
        for key, (low, high) in value.items():
            if key in INTEGER_PARAMETERS and not (low.is_integer() and high.is_integer()):
                raise ValueError(f"{key}: bounds must be integers")
        if "hidden_width" in value and info.data.get("family") not in (None, "mlp"):
            raise ValueError("hidden_width applies only to family mlp")
        return value


class VerificationProduct(_ProductBase):
    """Encrypted verification of claims about entities (and optional joint scoring).

    Claims (tolerance, unit), abuse limits and the approved scoring model are the fields
    below; how Match and Score work and what they protect: docs/SECURITY.md.

    ``consent`` says how each checked subject must have authorized the check (授权核验):
    ``operator`` (the default: the safe choice when a file says nothing) by a consent record
    the operator registered, keeping the signed authorization letter; ``issuer`` by a token
    signed by a consent authority listed in the policies; ``none`` only for public-interest
    products whose checks need no consent (docs/consent.md).

    ``membership`` says whether Match tells a caller that a subject is not in the dataset:
    ``disclosed`` (the default: NOT_FOUND in clear) or ``hidden`` (every subject UNDISCLOSED;
    an unknown subject's answer reads exactly like a recorded value that does not match, and
    unknown subjects count against the per-subject windows like known ones, so that a refusal
    tells nothing either). Score cannot hide a missing logit, so a ``hidden`` product scores
    nothing (no ``score_features``, no ``score_model``).

    Attributes:
        kind: ``verification``.
        key: The dataset's entity key: how callers name subjects.
        claims: Numeric columns with public bounds whose values callers may check, each with
            its tolerance and unit.
        score_features: Columns a scoring model may read in the zone (boolean, or numeric
            with public bounds).
        limits: Abuse limits per principal and zone-wide.
        score_model: A linear model approved for joint scoring (weights stay in the zone).
        consent: How each checked subject must have authorized the check: ``operator``,
            ``issuer`` or ``none``.
        membership: ``disclosed`` or ``hidden`` (see above).
        min_zone_features: Zone features a model must use, each with a real share of the
            logit's range, to serve per-subject scores.
        max_zone_feature_share: Largest share of the zone part's range one zone feature may
            carry.
        max_zone_weight: Largest weight of one zone feature (how far it can move the score,
            in score units), so that ``score_resolution`` means a resolution of the columns.
        score_resolution: Standard deviation of the Gaussian noise on every released score
            (logit units).
    """

    kind: Literal["verification"]
    key: ColumnName
    claims: dict[ColumnName, Claim]
    score_features: ColumnList = ()
    limits: VerificationLimits = VerificationLimits()
    score_model: ScoreModelSpec | None = None
    consent: ConsentMode = "operator"
    min_zone_features: Annotated[int, Field(ge=1, le=64)] = 3
    """Zone features a model must use (each with a real share) to serve per-subject scores."""
    max_zone_feature_share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.5
    """Largest share of the zone part's range one zone feature may carry."""
    max_zone_weight: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] = 5.0
    """Largest |weight| of one zone feature (score units): a score tells a zone column's scaled
    value at no finer than ``score_resolution / max_zone_weight`` per call."""
    score_resolution: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = 0.05
    """Standard deviation of the Gaussian noise on every released score (logit units)."""
    membership: Membership = "disclosed"

    @field_validator("claims")
    @classmethod
    def _some_claims(cls, value: dict[str, Claim]) -> dict[str, Claim]:
        if not value:
            raise ValueError("at least one claim column is required")
        return value

    @field_validator("score_model")
    @classmethod
    def _model_reads_score_features(
        cls, value: ScoreModelSpec | None, info: ValidationInfo
    ) -> ScoreModelSpec | None:
        allowed = info.data.get("score_features")
        if value is not None and allowed is not None:
            outside = [name for name in value.zone_features if name not in allowed]
            if outside:
                raise ValueError(f"zone_features must be among score_features: {outside}")
        return value

    @model_validator(mode="after")
    def _model_follows_scoring_rules(self) -> VerificationProduct:
        model = self.score_model
        if model is None:
            return self
        problems = scoring_problems(
            {f: model.weights[f] for f in model.zone_features},
            min_zone_features=self.min_zone_features,
            max_zone_feature_share=self.max_zone_feature_share,
            max_zone_weight=self.max_zone_weight,
        )
        if problems:
            raise ValueError("score_model: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _hidden_membership_scores_nothing(self) -> VerificationProduct:
        if self.membership == "hidden" and (self.score_features or self.score_model):
            raise ValueError(
                "membership: hidden cannot score (Score would reveal who is not in the "
                "dataset): remove score_features and score_model"
            )
        return self


Product = StatisticsProduct | TrainingProduct | VerificationProduct | JointTrainingProduct
PRODUCT_MODELS: dict[str, type[Product]] = {
    "statistics": StatisticsProduct,
    "training": TrainingProduct,
    "verification": VerificationProduct,
    "joint_training": JointTrainingProduct,
}
