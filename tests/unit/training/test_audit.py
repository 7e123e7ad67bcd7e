"""The one-run privacy audit (Steinke, Nasr, Jagielski 2023) of the zone's DP-SGD.

The bound itself is checked against values computed with the paper's Appendix D code and against
simulated randomized response; the audit must stay below the claimed epsilon on a DP run and rise
above it when the same run has no noise and no clipping (so the test has power).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from trainkit import Table, toy_spec

from zone.products.training import data, dpsgd
from zone.products.training.audit import (
    audit_dpsgd,
    count_correct,
    epsilon_lower_bound,
    p_value,
)
from zone.products.training.spec import TrainingSpec

CLAIMED = 2.0
CANARIES, K = 1000, 100


@pytest.mark.parametrize(
    ("m", "r", "v", "delta", "bound"),
    [  # from the paper's Appendix D functions, run as printed
        (1000, 200, 200, 1e-5, 4.16649017482996),
        (1000, 200, 199, 1e-5, 3.710959631949663),
        (1000, 200, 150, 1e-5, 0.819972911849618),
        (1000, 100, 100, 0.0, 3.492965430021286),
        (2000, 600, 600, 1e-5, 5.243467831984162),
        (1000, 200, 100, 1e-5, 0.0),
    ],
)
def test_the_bound_matches_the_papers_code(
    m: int, r: int, v: int, delta: float, bound: float
) -> None:
    assert epsilon_lower_bound(m, r, v, delta) == pytest.approx(bound, abs=1e-12)
    if bound > 0:
        assert p_value(m, r, v, bound, delta) < 0.05 <= p_value(m, r, v, bound + 1e-6, delta)


def test_the_bound_is_valid_for_randomized_response() -> None:
    """Guesses that are right with probability e^eps / (1 + e^eps) are exactly eps-DP."""
    epsilon, r, trials = 1.0, 200, 100
    rng = np.random.default_rng(7)
    correct = rng.binomial(r, 1 / (1 + np.exp(-epsilon)), size=trials)
    bounds = [epsilon_lower_bound(1000, r, int(v), 0.0) for v in correct]
    assert np.mean(np.array(bounds) > epsilon) <= 0.1  # at most 5% expected
    assert max(bounds) < 2 * epsilon and np.median(bounds) > 0.2


def test_bad_counts_are_refused() -> None:
    for m, r, v in [(10, 11, 1), (10, 5, 6), (10, 5, -1)]:
        with pytest.raises(ValueError):
            p_value(m, r, v, 1.0, 0.0)
    with pytest.raises(ValueError):
        epsilon_lower_bound(10, 5, 5, 0.0, confidence=1.0)


def test_guesses_take_the_extremes() -> None:
    scores = torch.tensor([5.0, -1.0, 3.0, 0.0, -2.0, 4.0])
    included = torch.tensor([True, False, False, True, False, True])
    assert count_correct(scores, included, 2, 2) == (4, 4)  # in: 0, 5; out: 1, 4
    assert count_correct(scores, included, 3, 0) == (3, 2)  # 2 is out


@dataclass(frozen=True)
class Setup:
    spec: TrainingSpec
    x: torch.Tensor
    y: torch.Tensor
    noise_multiplier: float


@pytest.fixture(scope="module")
def setup(toy: Table) -> Setup:
    torch.set_num_threads(1)
    spec = toy_spec(toy, epsilon=CLAIMED, epochs=5, batch_size=256)
    rows = data.load(spec)
    calibration = dpsgd.calibrate(spec)
    return Setup(
        spec, torch.from_numpy(rows.x), torch.from_numpy(rows.y), calibration.noise_multiplier
    )


def test_a_dp_run_audits_below_the_claimed_epsilon(setup: Setup) -> None:
    result = audit_dpsgd(setup.spec, setup.x, setup.y, canaries=CANARIES, k_plus=K,
                         k_minus=K, noise_multiplier=setup.noise_multiplier)  # fmt: skip
    assert result.guesses == 2 * K and 0 < result.included < CANARIES
    assert result.epsilon_lower_bound < CLAIMED


def test_without_noise_or_clipping_the_audit_exceeds_the_claimed_epsilon(setup: Setup) -> None:
    result = audit_dpsgd(setup.spec, setup.x, setup.y, canaries=CANARIES, k_plus=K,
                         k_minus=K, noise_multiplier=0.0, clipping=False)  # fmt: skip
    assert result.correct >= 0.95 * 2 * K
    assert result.epsilon_lower_bound > CLAIMED


def test_a_noise_multiplier_four_times_too_small_is_caught(setup: Setup) -> None:
    """A miscalibrated run (clipping on, a quarter of the noise) audits above the claim."""
    result = audit_dpsgd(setup.spec, setup.x, setup.y, canaries=CANARIES, k_plus=K,
                         k_minus=K, noise_multiplier=setup.noise_multiplier / 4)  # fmt: skip
    assert result.epsilon_lower_bound > CLAIMED
