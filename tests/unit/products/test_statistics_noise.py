"""Statistical checks: released noise has the stated discrete Laplace scale and no bias.

Each check is shown to fail on samples with the wrong scale or a bias, so it can fail.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import opendp.prelude as dp
import pytest
from statskit import Dataset

from zone.products.statistics import Measure, StatsQuery, execute, plan_query

RELEASES = 2_000
Errors = npt.NDArray[np.float64]


def discrete_laplace_variance(scale: float) -> float:
    """Variance of the discrete Laplace with P(k) proportional to exp(-|k| / scale)."""
    p = math.exp(-1.0 / scale)
    return 2.0 * p / (1.0 - p) ** 2


def variance_matches(errors: Errors, scale: float, tolerance: float = 0.1) -> bool:
    """Sample variance within 10 % of the stated scale's (about 8 standard errors at n=32,000)."""
    ratio = float(np.var(errors, ddof=1)) / discrete_laplace_variance(scale)
    return abs(ratio - 1.0) <= tolerance


def unbiased(errors: Errors) -> bool:
    """Mean error within 5 standard errors of 0."""
    return abs(float(np.mean(errors))) <= 5.0 * float(np.std(errors)) / math.sqrt(len(errors))


@pytest.fixture(scope="module")
def count_errors(enterprises: Dataset) -> tuple[Errors, float]:
    """2,000 releases of a count by district (16 cells each) at epsilon 1: noisy - exact."""
    query = StatsQuery(
        product="enterprise-stats",
        measures=(Measure("count"),),
        group_by=("district",),
        epsilon=1.0,
    )
    plan = plan_query(query, enterprises.product, enterprises.meta)
    exact = enterprises.frame.groupby("district").size()
    truth = np.array([exact.get(key[0], 0) for key in plan.group_keys], dtype=np.float64)
    cursor = enterprises.con.cursor()
    errors = []
    for _ in range(RELEASES):
        release = execute(plan, cursor, enterprises.table)
        errors.append(np.array([c.values[0] for c in release.measures[0].cells]) - truth)
    return np.concatenate(errors), release.measures[0].noise_scale["count"]


def test_stated_scale_is_one_over_epsilon(count_errors: tuple[Errors, float]) -> None:
    assert count_errors[1] == pytest.approx(1.0)


def test_count_noise_has_the_stated_variance(count_errors: tuple[Errors, float]) -> None:
    errors, scale = count_errors
    assert len(errors) == RELEASES * 16
    assert np.all(errors == np.round(errors)), "discrete noise keeps counts integral"
    assert variance_matches(errors, scale)


def test_count_noise_is_unbiased(count_errors: tuple[Errors, float]) -> None:
    assert unbiased(count_errors[0])


def _opendp_sample(scale: float, size: int) -> Errors:
    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    noise = dp.m.make_laplace(*space, scale=scale)
    return np.array(noise([0] * size), dtype=np.float64)


def test_the_checks_fail_on_wrong_samples() -> None:
    size = RELEASES * 16
    assert variance_matches(_opendp_sample(1.0, size), 1.0)
    assert not variance_matches(_opendp_sample(2.0, size), 1.0)
    assert not variance_matches(_opendp_sample(0.5, size), 1.0)
    assert not variance_matches(_opendp_sample(1.25, size), 1.0)
    sample = _opendp_sample(1.0, size)
    assert unbiased(sample)
    assert not unbiased(sample + 0.5)  # e.g. continuous noise then truncation
