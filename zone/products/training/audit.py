"""Empirical privacy audit of the zone's DP-SGD in one training run (a lower bound on epsilon).

Method: Steinke, Nasr and Jagielski, "Privacy Auditing with One (1) Training Run", NeurIPS 2023
(arXiv:2305.08846). One run of the zone's own DP-SGD code path (:func:`dpsgd.fit`: Poisson
sampling at the spec's public rate, per-example clipping, Gaussian noise at the calibrated
multiplier, summed loss, tail averaging), not a re-implementation:

1. ``m`` canaries. Canary ``i`` is a Dirac input: ``CANARY_SCALE`` (10) times the one-hot
   vector of an extra input column of its own (zero in every real row and every other canary),
   with label 1, so that its clipped gradient lies almost wholly on its column (the bias takes
   the rest: 1/sqrt(101) of the norm). Each is included in the training rows independently with
   probability 1/2, drawn from OS entropy.
2. One training run on the real rows plus the included canaries.
3. Score of canary ``i``, white-box (the default; the accountant's model: every iterate is
   seen): the run's iterates are recorded after each step (``dpsgd.fit``'s ``after_step``). On
   canary ``i``'s column only the canary itself and the noise act, so the step's update divided
   by ``lr * noise_multiplier * max_grad_norm`` is ``z_t = mu_t * [sampled] + N(0, 1)``, where
   ``mu_t`` is the canary's clipped gradient on its column (computable from the previous
   iterate) over ``noise_multiplier * max_grad_norm``, about ``1 / noise_multiplier``. The
   score is the log-likelihood ratio of "included" (Poisson-sampled at rate ``q``) against
   "excluded": ``sum_t log(1 - q + q * exp(mu_t z_t - mu_t^2 / 2))``. Without noise, or with
   ``white_box=False``, the score is the released (tail-averaged) weight on the column minus
   its initial value (public: the model is initialised from the spec's seed), i.e. what a
   caller receives.
4. Guesses: the ``k_plus`` highest scores "included", the ``k_minus`` lowest "excluded", the
   rest abstain (``k_plus`` and ``k_minus`` are fixed before the run); ``v`` of the ``r =
   k_plus + k_minus`` guesses are correct.
5. Bound: under (epsilon, delta)-DP with respect to adding or removing one canary, the paper's
   approximate-DP bound (Section 5) gives ``P[W >= v] <= beta + 2 m delta alpha``, with ``beta =
   P[Binomial(r, p) >= v]``, ``p = e^eps / (1 + e^eps)`` and ``alpha = max_{1 <= i <= v} P[v - i
   <= Binomial(r, p) < v] / i``. :func:`p_value` computes it exactly as the paper's Appendix D
   code (``p_value_DP_audit``); :func:`epsilon_lower_bound` searches as its ``get_eps_audit``:
   grow an upper bracket by 1 until the p-value reaches ``1 - confidence``, then 30 bisection
   steps, returning the low end. With probability at least ``confidence`` the true epsilon of
   the run is at least that bound; a bound above the accountant's epsilon would mean the
   implementation or its accounting is wrong.

A one-run audit is weak by design: with ``m`` canaries it cannot certify much more than about
``log(m)``, and a few thousand real rows train alongside the canaries, so a bound well below the
claimed epsilon is expected (the released average alone is weaker still: close to 0). Turning the
noise and clipping off must push the bound above it (``tests/unit/training/test_audit.py``).

Imported only in worker or benchmark processes (torch, scipy).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats  # type: ignore[import-untyped]

import zone.products.training.dpsgd as dpsgd
from zone.products.training.model import build_model, entropy_generator
from zone.products.training.spec import TrainingSpec

_BISECTIONS = 30
CANARY_SCALE = 10.0


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """Probability of at least ``v`` correct guesses out of ``r`` under (epsilon, delta)-DP.

    Args:
        m: Canaries, each included independently with probability 1/2.
        r: Guesses made (abstentions excluded).
        v: Correct guesses.
        epsilon: The null hypothesis's epsilon (>= 0).
        delta: The null hypothesis's delta (in [0, 1]).

    Raises:
        ValueError: The counts are not ``0 <= v <= r <= m``, or epsilon/delta out of range.
    """
    if not 0 <= v <= r <= m or not epsilon >= 0 or not 0 <= delta <= 1:
        raise ValueError("need 0 <= v <= r <= m, epsilon >= 0 and 0 <= delta <= 1")
    p = 1 / (1 + math.exp(-epsilon))  # accuracy of epsilon-DP randomized response
    beta = float(stats.binom.sf(v - 1, r, p))  # P[Binomial(r, p) >= v]
    alpha = 0.0
    if v > 0:  # below[i - 1] = P[v - i <= Binomial(r, p) < v], summed in the paper's order
        below = np.cumsum(stats.binom.pmf(np.arange(v - 1, -1, -1), r, p))
        alpha = float(np.max(below / np.arange(1, v + 1)))
    return min(beta + alpha * delta * 2 * m, 1.0)


def epsilon_lower_bound(m: int, r: int, v: int, delta: float, confidence: float = 0.95) -> float:
    """The largest epsilon that ``v`` correct guesses of ``r`` refute at ``confidence``.

    Raises:
        ValueError: As :func:`p_value`, or ``confidence`` not in (0, 1).
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    level = 1 - confidence
    low, high = 0.0, 1.0  # p_value(low) < level (or low = 0); p_value(high) >= level
    while p_value(m, r, v, high, delta) < level:
        high += 1
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if p_value(m, r, v, middle, delta) < level:
            low = middle
        else:
            high = middle
    return low


@dataclass(frozen=True)
class AuditResult:
    """One audit run: counts, guesses and the epsilon lower bound."""

    canaries: int
    included: int
    guesses: int
    correct: int
    noise_multiplier: float
    delta: float
    confidence: float
    epsilon_lower_bound: float


def count_correct(
    scores: torch.Tensor, included: torch.Tensor, k_plus: int, k_minus: int
) -> tuple[int, int]:
    """(r, v): guess the ``k_plus`` highest scores in, the ``k_minus`` lowest out; count hits."""
    order = torch.argsort(scores, descending=True)
    guessed_in, guessed_out = order[:k_plus], order[len(order) - k_minus :]
    correct = int(included[guessed_in].sum()) + int((~included[guessed_out]).sum())
    return k_plus + k_minus, correct


def audit_dpsgd(
    spec: TrainingSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    canaries: int,
    k_plus: int,
    k_minus: int,
    noise_multiplier: float,
    clipping: bool = True,
    white_box: bool = True,
    confidence: float = 0.95,
) -> AuditResult:
    """Audit one DP-SGD run of ``spec`` on rows ``x``/``y`` (CPU tensors) with Dirac canaries.

    Args:
        spec: The training plan (sample rate, steps, clipping, learning rate, delta).
        x: Real rows, scaled as the worker scales them.
        y: Their targets in [0, 1].
        canaries: ``m``, the number of canaries.
        k_plus: Highest-scoring canaries guessed included.
        k_minus: Lowest-scoring canaries guessed excluded.
        noise_multiplier: The Gaussian noise multiplier (``dpsgd.calibrate(spec)``'s, or 0 to
            check that the audit detects a run without noise).
        clipping: False lifts the clipping norm to 1e6 (effectively no clipping).
        white_box: Score from every iterate (see the module docstring); False, or no noise:
            from the released weights.
        confidence: Of the lower bound.

    Raises:
        ValueError: ``k_plus + k_minus`` exceeds ``canaries``.
    """
    if min(canaries, k_plus, k_minus) < 0 or k_plus + k_minus > canaries:
        raise ValueError("need 0 <= k_plus + k_minus <= canaries")
    if not clipping:
        spec = dataclasses.replace(spec, max_grad_norm=1e6)
    width = int(x.shape[1])
    included = torch.rand(canaries, generator=entropy_generator(torch.device("cpu"))) < 0.5
    dirac = torch.cat([torch.zeros(canaries, width), CANARY_SCALE * torch.eye(canaries)], dim=1)
    rows = torch.cat([torch.cat([x, torch.zeros(len(x), canaries)], dim=1), dirac[included]])
    targets = torch.cat([y, torch.ones(int(included.sum()))])
    initial = build_model(spec, width + canaries)
    trace = _Iterates(width, initial) if white_box and noise_multiplier > 0 else None
    model, _ = dpsgd.fit(
        spec,
        rows.float(),
        targets.float(),
        noise_multiplier,
        after_step=trace.record if trace else None,
    )
    if trace is not None:
        scores = trace.likelihood_ratios(spec, noise_multiplier)
    else:
        scores = _canary_weights(model, width) - _canary_weights(initial, width)
    r, v = count_correct(scores, included, k_plus, k_minus)
    return AuditResult(
        canaries=canaries,
        included=int(included.sum()),
        guesses=r,
        correct=v,
        noise_multiplier=noise_multiplier,
        delta=spec.delta,
        confidence=confidence,
        epsilon_lower_bound=epsilon_lower_bound(canaries, r, v, spec.delta, confidence),
    )


@torch.no_grad()
def _canary_weights(model: torch.nn.Module, width: int) -> torch.Tensor:
    if not isinstance(model, torch.nn.Linear):
        raise ValueError("the audit covers the linear families")
    return model.weight[0, width:].detach().double().cpu()


class _Iterates:
    """The canary columns and the bias of every iterate, from the initial model on."""

    def __init__(self, width: int, initial: torch.nn.Module) -> None:
        self._width = width
        self._weights = [_canary_weights(initial, width)]
        self._biases = [float(_bias(initial))]

    def record(self, model: torch.nn.Module) -> None:
        self._weights.append(_canary_weights(model, self._width))
        self._biases.append(float(_bias(model)))

    def likelihood_ratios(self, spec: TrainingSpec, noise_multiplier: float) -> torch.Tensor:
        """Each canary's log-likelihood ratio of included vs excluded, over all steps."""
        weights = torch.stack(self._weights)  # (steps + 1, m)
        biases = torch.tensor(self._biases, dtype=torch.float64)[:, None]
        clip = spec.max_grad_norm
        scale = spec.learning_rate / spec.expected_batch_size * noise_multiplier * clip
        z = (weights[1:] - weights[:-1]) / scale
        # Canary i's per-example gradient is (sigmoid(c w_i + b) - 1) * (c on its column, 1 on
        # the bias), c = CANARY_SCALE; Opacus clips its norm to max_grad_norm.
        c = CANARY_SCALE
        norm = (1 - torch.sigmoid(c * weights[:-1] + biases[:-1])) * math.sqrt(c * c + 1)
        column = torch.clamp(norm, max=clip) * c / math.sqrt(c * c + 1)
        mu = column / (noise_multiplier * clip)
        q = spec.sample_rate
        log_ratio = torch.logaddexp(
            torch.full_like(z, math.log1p(-q)), math.log(q) + mu * z - mu**2 / 2
        )
        return log_ratio.sum(dim=0)


def _bias(model: torch.nn.Module) -> torch.Tensor:
    assert isinstance(model, torch.nn.Linear)
    return model.bias.detach()[0]
