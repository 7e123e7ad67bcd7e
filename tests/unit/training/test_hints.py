"""Noise-multiplier hints: the same noise multiplier as a search, and never a weaker guarantee.

A hint lets a worker skip the calibration search (``dpsgd.calibrate``). The attacks: a hint
too small for the job's epsilon (stale, or planted by whoever could write a spec) must not be
used; a hint for other numbers must not be handed out; the server's memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from trainkit import Table, toy_spec

from zone.products.training.hints import NoiseHints, calibration_key
from zone.products.training.spec import TrainingSpec


def test_a_spec_with_a_hint_round_trips_and_an_old_spec_still_parses(toy: Table) -> None:
    spec = dataclasses.replace(toy_spec(toy), noise_multiplier_hint=3.25)
    assert TrainingSpec.from_json(spec.to_json()) == spec
    old = json.loads(spec.to_json())
    del old["noise_multiplier_hint"]  # a job queued before hints existed
    assert TrainingSpec.from_json(json.dumps(old)).noise_multiplier_hint is None
    old["noise_multiplier_hint"] = "3.25"
    with pytest.raises(ValueError, match="wrong type"):
        TrainingSpec.from_json(json.dumps(old))


def test_hints_are_learned_per_calibration_numbers_and_bounded(toy: Table) -> None:
    hints = NoiseHints(max_entries=2)
    one, other = toy_spec(toy, epsilon=1.0), toy_spec(toy, epsilon=2.0)
    assert hints.hinted(one) == one  # nothing known yet
    hints.expect("job-1", one)
    hints.learn("job-1", {"noise_multiplier": 1.5})
    assert hints.hinted(one).noise_multiplier_hint == 1.5
    assert hints.hinted(other).noise_multiplier_hint is None  # other numbers, no hint
    longer = toy_spec(toy, epsilon=1.0, epochs=3)  # same epsilon, other steps
    assert calibration_key(longer) != calibration_key(one)
    assert hints.hinted(longer).noise_multiplier_hint is None
    hints.learn("job-1", {"noise_multiplier": 9.0})  # learned once; a second result is ignored
    hints.learn("never-expected", {"noise_multiplier": 9.0})
    assert hints.hinted(one).noise_multiplier_hint == 1.5
    for job, spec, bad in (("f", other, None), ("g", other, {}), ("h", other, {"x": 1})):
        hints.expect(job, spec)
        hints.learn(job, bad)  # failed, or no usable noise multiplier
    for value in (float("nan"), float("inf"), 0.0, -1.0, True, "2.0"):
        hints.expect("bad", other)
        hints.learn("bad", {"noise_multiplier": value})
    assert hints.hinted(other).noise_multiplier_hint is None
    hints.expect("job-2", other)
    hints.learn("job-2", {"noise_multiplier": 0.7})
    hints.expect("job-3", longer)
    hints.learn("job-3", {"noise_multiplier": 2.5})  # the third entry evicts the oldest
    assert hints.hinted(one).noise_multiplier_hint is None
    assert hints.hinted(other).noise_multiplier_hint == 0.7
    assert hints.hinted(longer).noise_multiplier_hint == 2.5


@pytest.mark.slow
def test_a_hinted_calibration_is_the_searched_one_and_a_weak_hint_is_ignored(
    toy: Table,
) -> None:
    from zone.products.training.dpsgd import accounted_epsilon, calibrate

    spec = toy_spec(toy, epsilon=1.0, public_row_count=20_000, epochs=2)
    searched = calibrate(spec)
    hinted = calibrate(dataclasses.replace(spec, noise_multiplier_hint=searched.noise_multiplier))
    assert hinted == searched  # the same noise multiplier and the same confirmed epsilon
    # A hint too small for the target (stale, or planted) would overspend: it is ignored and
    # the search runs, giving the searched noise multiplier again.
    weak = searched.noise_multiplier * 0.8
    assert accounted_epsilon(weak, spec, spec.steps) > spec.epsilon_training
    assert calibrate(dataclasses.replace(spec, noise_multiplier_hint=weak)) == searched
    for junk in (float("nan"), float("inf"), 0.0, -2.0):
        assert calibrate(dataclasses.replace(spec, noise_multiplier_hint=junk)) == searched
