"""The joint job's privacy arithmetic and its one-row dependence, as properties and bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import zone.products.training.dpsgd as dpsgd
from zone.products.joint.metrics import classification, twice_u
from zone.products.joint.plan import split_budget
from zone.products.training.scaling import LabelScaling
from zone.products.training.spec import TrainingSpec


@given(
    epsilon=st.floats(min_value=1e-4, max_value=100),
    delta=st.floats(min_value=1e-12, max_value=1e-3),
)
def test_the_replace_one_charge_covers_group_privacy(epsilon: float, delta: float) -> None:
    dpsgd_epsilon, dpsgd_delta, metrics = split_budget(epsilon, delta)
    assert 0 < dpsgd_epsilon and 0 < metrics and 0 < dpsgd_delta
    assert 2 * dpsgd_epsilon + metrics <= epsilon
    assert (1 + math.exp(dpsgd_epsilon)) * dpsgd_delta <= delta


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.integers(-5, 5), min_size=2, max_size=30),
    labels=st.lists(st.booleans(), min_size=30, max_size=30),
    index=st.integers(0, 29),
    moved=st.integers(-7, 7),
)
def test_twice_u_counts_pairs_and_one_row_moves_it_by_at_most_2_max_p_n(
    scores: list[int], labels: list[bool], index: int, moved: int
) -> None:
    s = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(labels[: len(scores)])
    pairs = sum(2 * (a > b) + (a == b) for a in s[positive] for b in s[~positive])
    assert twice_u(s, positive) == pairs
    other = s.copy()
    other[index % len(s)] = moved
    p, n = int(positive.sum()), int((~positive).sum())
    assert abs(twice_u(other, positive) - pairs) <= 2 * max(p, n)


def test_dp_metrics_are_near_the_truth_at_a_generous_epsilon() -> None:
    rng = np.random.default_rng(0)
    targets = (rng.random(5000) < 0.3).astype(np.float64)
    outputs = rng.normal(0, 1, 5000) + 2 * targets - 1
    released = classification(outputs, targets, epsilon=20.0)
    accuracy = float(np.mean((outputs >= 0) == (targets >= 0.5)))
    assert abs(released["accuracy"] - accuracy) < 0.01
    assert 0.85 < released["auc"] < 0.95


def _spec(rows: int, clip: float, lr: float) -> TrainingSpec:
    return TrainingSpec(
        product="p", family="logistic_regression", dataset="d", table='"ds_d"', db_path="",
        features=(), label="y", scaling=(), label_scaling=LabelScaling("y", "binary",
        classes=("no", "yes")), epochs=3, batch_size=50, steps_per_epoch=rows // 50,
        sample_rate=50 / rows, expected_batch_size=50.0, learning_rate=lr, max_grad_norm=clip,
        hidden_width=None, epsilon=1.0, delta=1e-6, epsilon_training=1.0, epsilon_metrics=0.0,
        public_row_count=rows, public_train_rows=rows, validation_fraction=0.2, split_seed=None,
        entity_key="key", seed=0,
        use_cuda=False, keep_in_zone=False,
    )  # fmt: skip


def _run(spec: TrainingSpec, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
    """Noise-free DP-SGD (the zone's own loop), the same Poisson batches every run."""
    iterates: list[torch.Tensor] = []
    model, _ = dpsgd.fit(spec, x, y, 0.0, after_step=lambda m: iterates.append(
        torch.cat([m.weight.detach().reshape(-1), m.bias.detach()]).clone()))  # fmt: skip
    final = torch.cat([model.weight.detach().reshape(-1), model.bias.detach()])
    return final, [float(t.norm()) for t in iterates]


def test_one_crafted_row_moves_the_model_by_at_most_its_clipped_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One positive row for a target firm among negatives, its zone part replaced by extremes.

    Bound: a clipped logistic-regression gradient is ``x h(w.x)`` with ``h`` a clamp of
    ``sigmoid - y``, non-decreasing, so it is the gradient of a convex ``|x|^2/4``-smooth loss;
    a step over the other rows is then non-expansive while ``lr/B * batch * (d+1)/4 <= 2``
    (Hardt, Recht and Singer 2016, Lemma 3.6), and the target's own clipped term moves the
    two runs apart by at most ``lr/B * 2C`` per step: ``|w - w'| <= steps * lr/B * 2C``,
    whatever the labels and the replaced values. Without clipping the same row pulls harder.
    """
    monkeypatch.setattr(dpsgd, "entropy_generator",
                        lambda device: torch.Generator(device).manual_seed(7))  # fmt: skip
    rng = np.random.default_rng(1)
    rows, width = 1000, 12  # zone inputs, the missing indicator, operator inputs
    x = torch.from_numpy(rng.random((rows, width)).astype(np.float32))
    y = torch.zeros(rows)
    y[0] = 1.0  # the crafted label: the one positive is the target firm
    replaced = x.clone()
    replaced[0, :6] = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])  # its zone part replaced
    moved = {}
    for clip in (0.1, 1e6):
        spec = _spec(rows, clip, lr=0.2)
        assert spec.learning_rate / spec.expected_batch_size * 80 * (width + 1) / 4 <= 2
        first, _ = _run(spec, x, y)
        second, _ = _run(spec, replaced, y)
        moved[clip] = float((first - second).norm())
    spec = _spec(rows, 0.1, lr=0.2)
    assert moved[0.1] <= spec.steps * spec.learning_rate / spec.expected_batch_size * 2 * 0.1
    assert moved[1e6] > 3 * moved[0.1]
