"""Schema parts of ``verification`` products: claims, abuse limits and the scoring model.

A claim is compared in integer *codes*: ``code = value / unit`` (the unit is public, e.g. 0.01 for
an amount kept to two decimals). Codes must stay within :data:`MAX_CLAIM_CODE` in absolute value,
where every float64 value is still a whole number exactly (``zone.wire.oprf.MAX_CODE``): Match
hashes a code's decimal text, so codes compare exactly, without a modulus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from zone.catalog._fields import STRICT_FROZEN, ColumnList, ColumnName, as_tuple
from zone.wire.oprf import MAX_CODE

MAX_TOLERANCE = 5
"""Largest tolerance (in units): a window of 2t+1 codes costs 2t+1 tags per subject."""
MAX_CLAIM_CODE = MAX_CODE
"""Largest |value / unit| a claim or a dataset value may have to be compared."""
MATCH_PROTOCOL = "oprf-ristretto255-sha512"
"""Match: the 2HashDH oblivious PRF over ristretto255 with SHA-512 (``zone.wire.oprf``)."""
SCORE_PARAM_SET = "ckks-8192"
Membership = Literal["disclosed", "hidden"]
"""Whether Match tells a caller that a subject is not in the dataset (see the product model)."""

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
    """Abuse limits, per principal and zone-wide.

    Attributes:
        checks_per_subject: How often one principal may check (Match) or score (Score) one
            subject in any ``window_hours``-long window, each counted separately.
        zone_checks_per_subject: How often all principals together may check (Match) or
            score (Score) one subject in any such window, each counted separately: colluding
            grant holders share it. None (the default) means ``checks_per_subject``.
        window_hours: The sliding window.
        score_queries_per_model: Subjects a principal may score with one model, ever (many
            well-chosen queries extract a linear model).
        max_subjects_per_call: Subjects named in one Match or Score call.
    """

    model_config = STRICT_FROZEN

    checks_per_subject: Annotated[int, Field(ge=1, le=10_000)] = 3
    zone_checks_per_subject: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    window_hours: Annotated[float, Field(gt=0, le=24 * 366, allow_inf_nan=False)] = 24.0
    score_queries_per_model: Annotated[int, Field(ge=1)] = 100_000
    max_subjects_per_call: Annotated[int, Field(ge=1, le=65_536)] = 16_384

    @property
    def zone_limit(self) -> int:
        """Checks of one subject by all principals together per window (and kind)."""
        if self.zone_checks_per_subject is None:
            return self.checks_per_subject
        return self.zone_checks_per_subject


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
    bounds, as training does). The catalog shows the features and the caller-side weights
    (a caller can read those off its own scores with out-of-range inputs, so they are
    published rather than pretended secret); the zone-side weights and the intercept stay in
    the zone.

    Attributes:
        link: ``logit`` (the caller applies the sigmoid) or ``identity``.
        caller_features: Encrypted inputs, in the order the caller sends them.
        zone_features: Dataset columns (among the product's ``score_features``).
        weights: One weight per caller and zone feature.
        intercept: The intercept.
        noise_stddev: A floor on the standard deviation of the noise added to every logit;
            the product's ``score_resolution`` applies when it is larger.
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


MIN_COUNTED_SHARE = 0.02
"""A zone feature counts towards ``min_zone_features`` only with at least this share."""


def zone_feature_shares(zone_weights: Mapping[str, float]) -> dict[str, float]:
    """Each zone feature's share of the range of the zone's part of the score.

    Every input of a linear score is scaled to [0, 1] with public bounds, so zone feature
    ``f`` moves the score by at most ``|w_f|``; its share is ``|w_f| / sum |w|`` over the
    zone features. Caller features do not count: the caller knows its own inputs and the
    published caller-side weights, so it can take (or zero) its part of the score, and large
    caller weights would otherwise make one dominant zone feature look like a small share.
    """
    total = sum(abs(w) for w in zone_weights.values())
    return {f: (abs(w) / total if total else 0.0) for f, w in zone_weights.items()}


def scoring_problems(
    zone_weights: Mapping[str, float],
    *,
    min_zone_features: int,
    max_zone_feature_share: float,
    max_zone_weight: float,
) -> list[str]:
    """Why a linear model may not serve per-subject scores (empty: it may).

    A score that rests on one zone column (or on one column plus negligible others) is a
    readout of that column, not a score: at least ``min_zone_features`` zone features must
    each carry at least ``MIN_COUNTED_SHARE`` of the zone part's range, and none more than
    ``max_zone_feature_share``. Shares do not depend on the scale of the weights, but the
    score's resolution noise does not scale with them: a model with every weight multiplied
    by 1,000 would read its columns at 1/1,000 of the declared resolution. So no zone feature
    may move the score by more than ``max_zone_weight`` (``|w| <= max_zone_weight``): each
    score then tells a zone column's scaled value at no finer than
    ``score_resolution / max_zone_weight`` (docs/SECURITY.md).
    """
    shares = zone_feature_shares(zone_weights)
    counted = [f for f, share in shares.items() if share >= MIN_COUNTED_SHARE]
    problems = []
    if len(counted) < min_zone_features:
        problems.append(
            f"{len(counted)} zone feature(s) carry at least {MIN_COUNTED_SHARE:.0%} of the "
            f"zone part's range; the product requires at least {min_zone_features}"
        )
    over = sorted(f for f, share in shares.items() if share > max_zone_feature_share)
    if over:
        listed = ", ".join(f"{f} ({shares[f]:.0%})" for f in over)
        problems.append(
            f"zone feature(s) above the maximum share of {max_zone_feature_share:.0%} of the "
            f"zone part's range: {listed}"
        )
    heavy = sorted(f for f, w in zone_weights.items() if not abs(w) <= max_zone_weight)
    if heavy:
        listed = ", ".join(f"{f} ({zone_weights[f]:g})" for f in heavy)
        problems.append(
            f"zone feature(s) that move the score by more than max_zone_weight "
            f"{max_zone_weight:g} (the resolution noise would not hide them): {listed}"
        )
    return problems


def verification_parameters(
    claims: dict[str, Claim],
    score_features: tuple[str, ...],
    limits: VerificationLimits,
    model: ScoreModelSpec | None,
    *,
    membership: Membership,
    consent: str,
) -> dict[str, object]:
    """What the catalog shows of a verification product (JSON-able; never zone-side weights)."""
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
            # Published: a caller that sends inputs far outside [0, 1] reads these off its own
            # decrypted scores anyway, so they cannot be kept from grant holders.
            "caller_weights": {f.name: float(model.weights[f.name]) for f in model.caller_features},
        }
    return {
        "claims": {
            name: {"tolerance": float(c.tolerance), "unit": float(c.unit)}
            for name, c in claims.items()
        },
        "score_features": list(score_features),
        "limits": limits.model_dump(),
        "max_claim_code": MAX_CLAIM_CODE,
        "param_sets": {"match": MATCH_PROTOCOL, "score": SCORE_PARAM_SET},
        "membership": membership,
        "consent": consent,
        "score_model": described,
    }
