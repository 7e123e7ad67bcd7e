"""Can DP-SGD's noise be calibrated for this plan? A bounded pre-check without torch or Opacus.

The worker calibrates the noise multiplier with Opacus (``dpsgd.calibrate``): its
``get_noise_multiplier`` doubles sigma from 20 until the PRV accountant's epsilon is at or below
the target, and gives up ("The privacy budget is too low", a ValueError) once sigma passes
``1e6``; the largest sigma it tries is ``LARGEST_SIGMA`` = 20 x 2**15. The PRV accountant
reports an *upper* bound: its estimate plus ``eps_error`` (``PRV_EPS_ERROR``, 0.01 by default),
so no training epsilon below about 0.01 can ever be certified, whatever the noise. Measured
(Opacus 1.6, q = 1/312, 6,240 steps, delta 1e-6): training epsilon 0.0101 calibrates (sigma 640),
0.0099 fails after 4.5 s; delta 1e-13 and below ran for minutes without an answer.

The server process must not import torch (nor Opacus, which imports it), so this module checks
the same conditions with the Gaussian-DP central limit (Dong, Roth, Su, "Gaussian Differential
Privacy", 2019; Bu et al. 2020): T Poisson-subsampled Gaussian steps at rate q and noise sigma
are close to mu-GDP with mu = q sqrt(T (exp(1/sigma^2) - 1)), about q sqrt(T) / sigma for large
sigma, and mu-GDP is (epsilon, delta)-DP for ``delta = Phi(-epsilon/mu + mu/2) - exp(epsilon)
Phi(-epsilon/mu - mu/2)``. A plan is refused when

* ``epsilon_training < MIN_TRAINING_EPSILON`` (twice the accountant's error margin), or
* ``delta < MIN_DELTA``, or
* the noise the limit says is needed for ``epsilon_training - PRV_EPS_ERROR`` exceeds
  ``LARGEST_SIGMA / SAFETY`` (many steps at a high rate for a small epsilon).

The margins make a refusal of a plan Opacus could calibrate possible only near these limits, and
a worker failure on a plan accepted here unlikely (tests run Opacus at the limits). Everything
here is a function of public numbers; nothing is read or reserved.
"""

from __future__ import annotations

import math

PRV_EPS_ERROR = 0.01
LARGEST_SIGMA = 20.0 * 2**15
SAFETY = 8.0
MIN_TRAINING_EPSILON = 2 * PRV_EPS_ERROR
MIN_DELTA = 1e-10
_BISECTIONS = 200


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def gdp_delta(epsilon: float, mu: float) -> float:
    """The delta at which mu-GDP is (epsilon, delta)-DP (Dong, Roth, Su, Corollary 2.13)."""
    if mu <= 0:
        return 0.0
    return _phi(-epsilon / mu + mu / 2) - math.exp(epsilon) * _phi(-epsilon / mu - mu / 2)


def gdp_mu(epsilon: float, delta: float) -> float:
    """The largest mu whose mu-GDP is (epsilon, delta)-DP (bisection; delta grows with mu)."""
    low, high = 0.0, 1.0
    while gdp_delta(epsilon, high) <= delta and high < 1e6:
        high *= 2
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if gdp_delta(epsilon, middle) <= delta:
            low = middle
        else:
            high = middle
    return low


def required_noise(
    *, target_epsilon: float, target_delta: float, sample_rate: float, steps: int
) -> float:
    """The noise multiplier the GDP limit needs for (target_epsilon, target_delta); inf if none."""
    if target_epsilon <= 0:
        return math.inf
    mu = gdp_mu(target_epsilon, target_delta)
    if mu <= 0:
        return math.inf
    return sample_rate * math.sqrt(steps) / mu


def _round_up(value: float, digits: int = 3) -> float:
    """``value`` rounded up to ``digits`` significant digits."""
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale * (1 - 1e-12)) / scale


def smallest_epsilon(training_share: float) -> float:
    """The smallest requested epsilon (3 significant digits) whose training share passes."""
    return _round_up(MIN_TRAINING_EPSILON / training_share * (1 + 1e-9))


def calibration_problems(
    *,
    epsilon: float,
    epsilon_training: float,
    training_share: float,
    delta: float,
    sample_rate: float,
    steps: int,
) -> list[str]:
    """Why the worker could not calibrate DP-SGD's noise for this plan (empty if it can).

    ``training_share`` is the share of ``epsilon`` that goes to DP-SGD (the rest pays for the
    DP metrics); ``epsilon_training`` that share of ``epsilon``.
    """
    if epsilon_training < MIN_TRAINING_EPSILON:
        return [
            f"epsilon {epsilon:g} is too small to calibrate DP-SGD: at least "
            f"{smallest_epsilon(training_share):g} is needed (its training share must reach "
            f"{MIN_TRAINING_EPSILON:g}; the PRV accountant certifies epsilon only up to its "
            f"error margin of {PRV_EPS_ERROR:g})"
        ]
    if delta < MIN_DELTA:
        return [f"delta must be at least {MIN_DELTA:g} (the accountant cannot resolve smaller)"]
    sigma = required_noise(
        target_epsilon=epsilon_training - PRV_EPS_ERROR,
        target_delta=delta,
        sample_rate=sample_rate,
        steps=steps,
    )
    if sigma > LARGEST_SIGMA / SAFETY:
        return [
            f"epsilon {epsilon:g} is too small for {steps} DP-SGD steps at sample rate "
            f"{sample_rate:.3g}: choose fewer epochs, a smaller batch_size, or a larger epsilon"
        ]
    return []
