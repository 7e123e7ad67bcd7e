"""Submission refuses plans whose DP-SGD noise cannot be calibrated, without torch or Opacus.

The last tests run the worker's own calibration (Opacus) at the limits this check sets: a plan
accepted at the smallest epsilon calibrates, and a training share just below the PRV
accountant's error margin does not.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trainkit import Table, toy_spec

from zone.errors import ValidationFailed
from zone.products.training.calibration import (
    LARGEST_SIGMA,
    MIN_DELTA,
    PRV_EPS_ERROR,
    calibration_problems,
    gdp_delta,
    gdp_mu,
    required_noise,
    smallest_epsilon,
)
from zone.products.training.spec import METRICS_SHARE, split_epsilon


def refusal(table: Table, **request: Any) -> str:
    with pytest.raises(ValidationFailed) as caught:
        toy_spec(table, **request)
    [problem] = caught.value.problems
    return str(problem.message)


@pytest.mark.parametrize("epsilon", [1e-4, 1e-9, 1e-300, 0.02, 0.0222])
def test_an_epsilon_too_small_to_calibrate_is_refused_at_planning(
    toy: Table, epsilon: float
) -> None:
    message = refusal(toy, epsilon=epsilon)
    assert "too small to calibrate DP-SGD: at least 0.0223 is needed" in message


def test_the_smallest_stated_epsilon_is_accepted(toy: Table) -> None:
    assert smallest_epsilon(1 - METRICS_SHARE) == 0.0223
    spec = toy_spec(toy, epsilon=0.0223)
    assert spec.epsilon_training >= 0.02 and split_epsilon(0.0223)[0] == spec.epsilon_training


def test_a_delta_below_the_accountants_resolution_is_refused(toy: Table) -> None:
    assert "delta must be at least 1e-10" in refusal(toy, delta=1e-13)
    toy_spec(toy, delta=MIN_DELTA)


def test_many_steps_at_a_high_rate_for_a_small_epsilon_are_refused() -> None:
    ok: dict[str, float] = {
        "epsilon": 0.03,
        "epsilon_training": 0.027,
        "training_share": 0.9,
        "delta": 1e-6,
    }
    assert calibration_problems(**ok, sample_rate=1 / 312, steps=6240) == []
    [problem] = calibration_problems(**ok, sample_rate=0.5, steps=10**9)
    assert "too small for 1000000000 DP-SGD steps" in problem


def test_gaussian_dp_by_hand() -> None:
    # mu = 1 at epsilon 0: Phi(1/2) - Phi(-1/2).
    assert gdp_delta(0.0, 1.0) == pytest.approx(0.382924922548026)
    assert gdp_delta(1.0, 0.0) == 0.0
    mu = gdp_mu(1.0, 1e-5)
    assert gdp_delta(1.0, mu) == pytest.approx(1e-5, rel=1e-9)
    assert required_noise(target_epsilon=0, target_delta=1e-5, sample_rate=0.1, steps=10) == (
        math.inf
    )


@settings(max_examples=60, deadline=None)
@given(
    epsilon=st.floats(min_value=1e-3, max_value=20.0),
    delta=st.floats(min_value=1e-12, max_value=1e-3),
)
def test_gdp_mu_inverts_gdp_delta(epsilon: float, delta: float) -> None:
    mu = gdp_mu(epsilon, delta)
    assert mu > 0 and gdp_delta(epsilon, mu) <= delta
    assert gdp_delta(epsilon, mu * 1.001) > delta * (1 - 1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(("rows", "batch_size", "epochs"), [(6000, 100, 20), (6000, 2400, 2)])
def test_opacus_calibrates_what_planning_accepts_at_its_limit(
    toy: Table, rows: int, batch_size: int, epochs: int
) -> None:
    from zone.products.training.dpsgd import calibrate

    spec = toy_spec(
        toy, epsilon=0.0223, delta=1e-6, batch_size=batch_size, epochs=epochs,
        public_row_count=rows,
    )  # fmt: skip
    calibration = calibrate(spec)
    assert calibration.epsilon <= spec.epsilon_training
    assert calibration.noise_multiplier <= LARGEST_SIGMA


@pytest.mark.slow
def test_opacus_cannot_calibrate_below_the_prv_error_margin() -> None:
    import warnings

    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings(), pytest.raises(ValueError, match="privacy budget is too low"):
        warnings.simplefilter("ignore")
        get_noise_multiplier(
            target_epsilon=PRV_EPS_ERROR * 0.99,
            target_delta=1e-6,
            sample_rate=1 / 48,
            steps=20 * 48,
            accountant="prv",
        )
