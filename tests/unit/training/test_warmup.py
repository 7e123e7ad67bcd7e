"""The warm-up a pool worker runs before its job: the real code path, on synthetic data."""

from __future__ import annotations

from zone.products.training import warmup


def test_the_warm_up_runs_the_training_path_without_a_dataset() -> None:
    spec = warmup._spec()
    assert spec.db_path == ":memory:"  # nothing on disk is opened
    warmup.warm_up()  # raises if any step of the path fails (a pool worker only logs it)
