"""Schema parts of ``verification`` products: claims, abuse limits and the scoring model.

A claim is compared in integer *codes*: ``code = value / unit`` (the unit is public, e.g. 0.01 for
an amount kept to two decimals). Codes must stay within :data:`MAX_CLAIM_CODE` in absolute value
so that, modulo the BFV plain modulus of the match parameter set, a difference of codes is zero
only when the codes are equal (``2 * MAX_CLAIM_CODE + MAX_TOLERANCE`` is below the plain modulus;
a unit test of ``zone.wire.he_params`` keeps that true).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from zone.catalog._fields import STRICT_FROZEN, ColumnList, ColumnName, as_tuple

MAX_TOLERANCE = 5
"""Largest tolerance (in units): a window of 2t+1 codes costs 2t+1 reply ciphertexts."""
MAX_CLAIM_CODE = 2**25
"""Largest |value / unit| a claim or a dataset value may have to be compared."""
MATCH_PARAM_SET = "bfv-4096"
SCORE_PARAM_SET = "ckks-8192"

Finite = Annotated[float, Field(allow_inf_nan=False)]


class Claim(BaseModel):
    """How a claimed value is compared with the dataset's value.

    Attributes:
        tolerance: A claim matches when ``|claimed - true| <= tolerance * unit``.
        unit: The public unit values are expressed in (claims must be whole multiples of it).
    """

    model_config = STRICT_FROZEN

    tolerance: Annotated[int, Field(ge=0, le=MAX_TOLERANCE)]
    unit: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0


class VerificationLimits(BaseModel):
    """Abuse limits, per principal.

    Attributes:
        checks_per_subject: How often one subject may be checked (Match) or scored (Score)
            in any ``window_hours``-long window, each counted separately.
        window_hours: The sliding window.
        score_queries_per_model: Subjects a principal may score with one model, ever (many
            well-chosen queries extract a linear model).
        max_subjects_per_call: Subjects named in one Match or Score call.
    """

    model_config = STRICT_FROZEN

    checks_per_subject: Annotated[int, Field(ge=1, le=10_000)] = 3
    window_hours: Annotated[float, Field(gt=0, le=24 * 366, allow_inf_nan=False)] = 24.0
    score_queries_per_model: Annotated[int, Field(ge=1)] = 100_000
    max_subjects_per_call: Annotated[int, Field(ge=1, le=65_536)] = 16_384


def _interval(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError("bounds must be [low, high] with low < high")
    return value


Interval = Annotated[tuple[float, float], BeforeValidator(as_tuple), AfterValidator(_interval)]


class CallerFeature(BaseModel):
    """A feature the caller supplies, encrypted, scaled by the SDK to [0, 1] with these bounds.

    Attributes:
        name: The feature's name (callers send values by it).
        bounds: Public ``[low, high]`` the caller's SDK scales the value with.
    """

    model_config = STRICT_FROZEN

    name: ColumnName
    bounds: Interval


class ScoreModelSpec(BaseModel):
    """A linear model an administrator approved with the product (joint scoring).

    ``logit = intercept + sum(weights[f] * x_f)`` over caller features (scaled by the caller's
    SDK with the public bounds) and zone features (scaled by the zone with the dataset's public
    bounds, as training does). The weights stay in the zone: the catalog shows the features,
    never the weights.

    Attributes:
        link: ``logit`` (the caller applies the sigmoid) or ``identity``.
        caller_features: Encrypted inputs, in the order the caller sends them.
        zone_features: Dataset columns (among the product's ``score_features``).
        weights: One weight per caller and zone feature.
        intercept: The intercept.
        noise_stddev: Standard deviation of the flooding noise added to every logit.
    """

    model_config = STRICT_FROZEN

    link: Literal["logit", "identity"] = "logit"
    caller_features: Annotated[tuple[CallerFeature, ...], BeforeValidator(as_tuple)] = ()
    zone_features: ColumnList = ()
    weights: dict[ColumnName, Finite]
    intercept: Finite
    noise_stddev: Annotated[float, Field(gt=0, le=1.0, allow_inf_nan=False)] = 2.0**-8

    @model_validator(mode="after")
    def _weights_cover_features(self) -> ScoreModelSpec:
        caller = [f.name for f in self.caller_features]
        if len(set(caller)) != len(caller):
            raise ValueError("caller feature names must be unique")
        if set(caller) & set(self.zone_features):
            raise ValueError("a feature cannot be both a caller and a zone feature")
        if set(self.weights) != set(caller) | set(self.zone_features):
            raise ValueError("weights must name every caller and zone feature exactly once")
        if not caller and not self.zone_features:
            raise ValueError("the model needs at least one feature")
        return self


def verification_parameters(
    claims: dict[str, Claim],
    score_features: tuple[str, ...],
    limits: VerificationLimits,
    model: ScoreModelSpec | None,
) -> dict[str, object]:
    """What the catalog shows of a verification product (JSON-able; never the weights)."""
    described = None
    if model is not None:
        described = {
            "link": model.link,
            "caller_features": [
                {"name": f.name, "bounds": [float(f.bounds[0]), float(f.bounds[1])]}
                for f in model.caller_features
            ],
            "zone_features": list(model.zone_features),
            "noise_stddev": float(model.noise_stddev),
        }
    return {
        "claims": {
            name: {"tolerance": float(c.tolerance), "unit": float(c.unit)}
            for name, c in claims.items()
        },
        "score_features": list(score_features),
        "limits": limits.model_dump(),
        "max_claim_code": MAX_CLAIM_CODE,
        "param_sets": {"match": MATCH_PARAM_SET, "score": SCORE_PARAM_SET},
        "score_model": described,
    }
