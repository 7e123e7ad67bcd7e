"""Property: whatever the (epsilon, epochs, batch size), the accountant never exceeds the plan."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trainkit import Table, run_collect, toy_spec


@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    epsilon=st.floats(min_value=0.3, max_value=2.0),
    epochs=st.integers(min_value=1, max_value=2),
    batch_size=st.integers(min_value=64, max_value=512),
)
def test_epsilon_spent_never_exceeds_epsilon(
    toy: Table, epsilon: float, epochs: int, batch_size: int
) -> None:
    spec = toy_spec(toy, epsilon=epsilon, epochs=epochs, batch_size=batch_size)
    events = run_collect(spec)
    assert [e["event"] for e in events] == (["touched_data"] + ["progress"] * epochs + ["result"])
    progress = [e["epsilon_spent"] for e in events if e["event"] == "progress"]
    assert all(0 < x <= spec.epsilon_training for x in progress)
    result = events[-1]
    assert result["epsilon_training"] == progress[-1]
    assert result["epsilon_training"] >= 0.9 * spec.epsilon_training  # calibrated, not wasteful
    assert result["epsilon_spent"] <= epsilon
    assert result["steps"] == epochs * spec.steps_per_epoch
