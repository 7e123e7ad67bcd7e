"""OpenDP measurements used by statistics products, and their calibration.

All noise comes from OpenDP; this package never samples noise itself. Scales are calibrated
from OpenDP's own privacy maps without any search over data: a closed-form first guess, then
the map is asked whether it meets the target, and the scale is nudged up by one float step at a
time (rounding in the map can exceed the target by an ulp). Calibrations are pure functions of
public numbers and are cached. Every release checks the map (:func:`check_map`) against its
planned share immediately before the measurement is invoked. The measurements a release invokes
and their privacy maps' values are cached too (``_released_*``, ``_selection``): both are pure
functions of public numbers (building a discrete Laplace measurement and evaluating its map took
about 210 us of the 460 us a 16-cell release cost). Cached measurements are invoked from
several threads at once: OpenDP measurements are immutable (``measurement_invoke`` reads them
through a const pointer) and each invocation samples its own noise.

Only the ``contrib`` feature is enabled: integer discrete Laplace, the quantile exponential
mechanism on float64 inputs and the Laplace threshold on integer counts all run without
``floating-point`` (no float Laplace noise is ever added).

Privacy unit everywhere: one entity = one row; neighbours differ by adding or removing one
entity (SymmetricDistance 1; for count vectors L1 = 1; for integer sums L1 = the largest
absolute clamped value in integer units).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import opendp.prelude as dp

from zone.errors import ZoneError

dp.enable_features("contrib")

DISCRETE_LAPLACE = "discrete_laplace"
QUANTILE = "exponential_mechanism(quantile_score, report_noisy_max exponential noise)"
KEY_SELECTION = "laplace_threshold(discrete Laplace, stability histogram)"
_MAX_NUDGES = 64


class PrivacyMapError(ZoneError):
    """OpenDP's privacy map does not confirm the planned (epsilon, delta): nothing is released."""

    def __init__(self) -> None:
        super().__init__("privacy check failed", reason="privacy_map_check")


def check_map(ok: bool) -> None:
    """Raise :class:`PrivacyMapError` unless OpenDP's map confirmed the planned loss."""
    if not ok:
        raise PrivacyMapError()


def _int_vector_space() -> tuple[Any, Any]:
    return dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")


def _laplace(scale: float) -> Any:
    return dp.m.make_laplace(*_int_vector_space(), scale=scale)


@functools.lru_cache(maxsize=4096)
def laplace_scale(sensitivity: int, epsilon: float) -> float:
    """Smallest (up to float steps) discrete Laplace scale that OpenDP maps to <= epsilon."""
    scale = sensitivity / epsilon
    for _ in range(_MAX_NUDGES):
        if _laplace(scale).map(sensitivity) <= epsilon:
            return scale
        scale = math.nextafter(scale, math.inf)
    raise PrivacyMapError()


@functools.lru_cache(maxsize=4096)
def _released_laplace(scale: float, sensitivity: int) -> tuple[Any, float]:
    """(the discrete Laplace measurement at ``scale``, its map at ``sensitivity``)."""
    measurement = _laplace(scale)
    return measurement, float(measurement.map(sensitivity))


def release_laplace(
    values: Sequence[int], sensitivity: int, scale: float, epsilon: float
) -> list[int]:
    """Add discrete Laplace noise to a vector of exact integer aggregates.

    Guarantee: epsilon-DP (delta 0) under add/remove-one-entity, provided that one entity
    changes ``values`` by at most ``sensitivity`` in L1 norm (1 for disjoint counts; the
    largest absolute clamped value in integer units for disjoint sums). The map is checked.
    """
    measurement, loss = _released_laplace(scale, int(sensitivity))
    check_map(loss <= epsilon)
    return [int(v) for v in measurement([int(v) for v in values])]


def _quantile(candidates: Sequence[float], alpha: float, scale: float) -> Any:
    return dp.m.make_private_quantile(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.symmetric_distance(),
        dp.max_divergence(),
        candidates=[float(c) for c in candidates],
        alpha=alpha,
        scale=scale,
    )


@functools.lru_cache(maxsize=4096)
def quantile_scale(alpha: float, epsilon: float) -> tuple[float, float]:
    """(scale, score sensitivity) for the alpha-quantile at epsilon, from OpenDP's map.

    The map is linear in 1/scale and does not depend on the candidates, so a two-candidate
    probe at scale 1 gives ``epsilon * scale``; report noisy max on these (non-monotone)
    scores costs ``2 * sensitivity / scale``, so the score sensitivity is half of it.
    """
    at_unit_scale = _quantile_loss_at_unit_scale(alpha)
    scale = at_unit_scale / epsilon
    for _ in range(_MAX_NUDGES):
        if _quantile((0.0, 1.0), alpha, scale).map(1) <= epsilon:
            return scale, at_unit_scale / 2
        scale = math.nextafter(scale, math.inf)
    raise PrivacyMapError()


@functools.lru_cache(maxsize=256)
def _quantile_loss_at_unit_scale(alpha: float) -> float:
    return float(_quantile((0.0, 1.0), alpha, 1.0).map(1))


@dataclass(frozen=True)
class RankCounts:
    """Where one group's values lie around the candidates: all the quantile score reads.

    Attributes:
        n: how many values the group has.
        below: ``#(x < c)`` for each candidate ``c``, in candidate order.
        at_or_below: ``#(x <= c)`` for each candidate.
    """

    n: int
    below: tuple[int, ...]
    at_or_below: tuple[int, ...]


def rank_counts(values: npt.NDArray[np.float64], candidates: Sequence[float]) -> RankCounts:
    """The :class:`RankCounts` of non-NaN ``values`` (IEEE comparisons, as OpenDP's)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    edges = np.asarray(candidates, dtype=np.float64)
    below = np.searchsorted(ordered, edges, side="left")
    at_or_below = np.searchsorted(ordered, edges, side="right")
    return RankCounts(len(ordered), tuple(map(int, below)), tuple(map(int, at_or_below)))


def _float_vectors() -> Any:
    return dp.vector_domain(dp.atom_domain(T=float, nan=False))


def _scores(candidates: Sequence[float], alpha: float) -> Any:
    return dp.t.make_quantile_score_candidates(
        _float_vectors(), dp.symmetric_distance(), [float(c) for c in candidates], alpha
    )


@functools.lru_cache(maxsize=256)
def score_constants(alpha: float) -> tuple[int, int, int]:
    """OpenDP's integer form of alpha for the quantile score: (numerator, denominator, limit).

    Read from OpenDP itself: one value 0.0 scored against candidates -1 and 1 gives
    ``alpha_num * #(x > -1)`` and ``(alpha_den - alpha_num) * #(x < 1)``, that is
    ``(alpha_num, alpha_den - alpha_num)``. The limit caps the counts for unknown dataset
    sizes: ``u64::MAX // alpha_den`` (``score_candidates_constants`` in OpenDP).
    """
    low, high = (int(v) for v in _scores((-1.0, 1.0), alpha)([0.0]))
    denominator = low + high
    return low, denominator, (2**64 - 1) // denominator


def quantile_scores(counts: RankCounts, alpha: float) -> list[int]:
    """OpenDP's quantile score of every candidate, from the group's :class:`RankCounts`.

    ``|(alpha_den - alpha_num) * min(#(x < c), limit) - alpha_num * min(#(x > c), limit)|``
    for each candidate ``c``: OpenDP's ``score_candidates`` (0.16), which reads the data only
    through these counts (the tests compare it with OpenDP's transformation on random data).
    """
    numerator, denominator, limit = score_constants(alpha)
    return [
        abs((denominator - numerator) * min(lt, limit) - numerator * min(counts.n - le, limit))
        for lt, le in zip(counts.below, counts.at_or_below, strict=True)
    ]


@functools.lru_cache(maxsize=256)
def _selection(candidates: tuple[float, ...], alpha: float, scale: float) -> tuple[float, Any]:
    """(the whole mechanism's map at 1, its report-noisy-max step to invoke on scores).

    The same steps as OpenDP's ``make_private_quantile``: the score transformation, then
    ``make_noisy_max`` on its output space with ``scale * alpha_den``, minimising.
    """
    score = _scores(candidates, alpha)
    noisy_max = dp.m.make_noisy_max(
        score.output_domain,
        score.output_metric,
        dp.max_divergence(),
        scale=scale * score_constants(alpha)[1],
        negate=True,
    )
    return float((score >> noisy_max).map(1)), noisy_max


def release_quantiles_from_counts(
    groups: Sequence[RankCounts],
    candidates: Sequence[float],
    alpha: float,
    scale: float,
    epsilon: float,
) -> list[float]:
    """The DP alpha-quantile of each group, each one of ``candidates``, from rank counts.

    Guarantee: epsilon-DP (delta 0) under add/remove-one-entity for every group; groups hold
    disjoint entities (parallel composition), so the whole vector costs epsilon. The same
    distribution as OpenDP's ``make_private_quantile`` (Smith 2011; McKenna and Sheldon 2020)
    on the group's clamped values, which is ``make_quantile_score_candidates >>
    make_noisy_max(scale * alpha_den, negate) >> candidates[index]``: the scores depend on
    the values only through ``#(x < c)`` and ``#(x <= c)`` (:func:`quantile_scores` computes
    them exactly as OpenDP does), and the same OpenDP ``make_noisy_max`` measurement is
    invoked on them. The map of the whole chain (score transformation included) is checked.
    Candidates must be strictly increasing.
    """
    loss, noisy_max = _selection(tuple(float(c) for c in candidates), alpha, scale)
    check_map(loss <= epsilon)
    return [float(candidates[int(noisy_max(quantile_scores(g, alpha)))]) for g in groups]


def _threshold(scale: float, threshold: int) -> Any:
    return dp.m.make_laplace_threshold(
        dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64")),
        dp.l01inf_distance(dp.absolute_distance(T="i64")),
        scale=scale,
        threshold=threshold,
    )


_ONE_ENTITY = (1, 1, 1)  # one key changes (l0), by 1 in total (l1) and at most (linf)


@functools.lru_cache(maxsize=1024)
def threshold_params(epsilon: float, delta: float) -> tuple[float, int]:
    """(scale, threshold) for key selection at (epsilon, delta), confirmed by OpenDP's map.

    First guess: scale = 1/epsilon and threshold = 1 + scale * ln(1 / (2 delta)) rounded up
    (the tail of Laplace noise past the threshold bounds delta); then nudged until the map
    confirms both epsilon and delta.
    """
    scale = 1.0 / epsilon
    threshold = max(2, math.ceil(1.0 + scale * math.log(1.0 / (2.0 * delta))))
    for _ in range(_MAX_NUDGES):
        eps_out, delta_out = _threshold(scale, threshold).map(_ONE_ENTITY)
        if eps_out <= epsilon and delta_out <= delta:
            return scale, threshold
        if eps_out > epsilon:
            scale = math.nextafter(scale, math.inf)
        else:
            threshold += 1
    raise PrivacyMapError()


@functools.lru_cache(maxsize=1024)
def _released_threshold(scale: float, threshold: int) -> tuple[Any, tuple[float, float]]:
    """(the Laplace threshold measurement, its map for one entity)."""
    measurement = _threshold(scale, threshold)
    eps_out, delta_out = measurement.map(_ONE_ENTITY)
    return measurement, (float(eps_out), float(delta_out))


def release_keys(
    counts: Mapping[tuple[str, ...], int],
    scale: float,
    threshold: int,
    epsilon: float,
    delta: float,
) -> dict[tuple[str, ...], int]:
    """Keys whose noisy count passes the threshold, with their noisy counts.

    Guarantee: (epsilon, delta)-DP under add/remove-one-entity: one entity is in one key's
    count (l0 = l1 = linf = 1). Mechanism: OpenDP ``make_laplace_threshold`` (discrete
    Laplace noise on every present key, keys below ``threshold`` dropped). Map checked.
    """
    measurement, (eps_out, delta_out) = _released_threshold(scale, threshold)
    check_map(eps_out <= epsilon and delta_out <= delta)
    encoded = {json.dumps(list(key)): int(count) for key, count in counts.items()}
    released = measurement(encoded)
    return {tuple(json.loads(key)): int(count) for key, count in released.items()}
