"""Budget split properties: the planned parts never exceed the requested epsilon."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from statskit import Dataset

from zone.products.statistics import Measure, StatsQuery, plan_query
from zone.products.statistics.measure_plans import split_evenly

MEASURES = st.one_of(
    st.just(Measure("count")),
    st.just(Measure("sum", "x")),
    st.just(Measure("mean", "n")),
    st.just(Measure("histogram", "n", bins=7)),
    st.just(Measure("histogram", "region")),
    st.lists(st.floats(min_value=0.01, max_value=0.99), min_size=1, max_size=3).map(
        lambda qs: Measure("quantile", "x", quantiles=tuple(qs))
    ),
)
EPSILONS = st.floats(min_value=1e-6, max_value=1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=80, deadline=None)
@given(
    epsilon=EPSILONS,
    measures=st.lists(MEASURES, min_size=1, max_size=10),
    selecting=st.booleans(),
)
def test_parts_add_up_to_the_requested_epsilon_and_never_more(
    toy: Dataset, epsilon: float, measures: list[Measure], selecting: bool
) -> None:
    query = StatsQuery(
        product="toy-stats",
        measures=tuple(measures),
        group_by=("city",) if selecting else ("region",),
        epsilon=epsilon,
        delta=1e-7 if selecting else 0.0,
    )
    plan = plan_query(query, toy.product, toy.meta)
    assert plan.epsilon == epsilon
    assert plan.composed_epsilon <= epsilon
    assert plan.composed_epsilon >= epsilon * (1 - 1e-12)
    parts = [m.epsilon for m in plan.measures]
    if selecting:
        assert plan.key_selection is not None
        parts.append(plan.key_selection.epsilon)
        assert plan.delta == plan.key_selection.delta == 1e-7
    else:
        assert plan.key_selection is None and plan.delta == 0.0
    assert sum(parts) <= epsilon and math.fsum(parts) <= epsilon
    for measure in plan.measures:
        components = [c.epsilon for c in measure.components]
        assert math.fsum(components) <= measure.epsilon
        assert math.fsum(components) >= measure.epsilon * (1 - 1e-12)
        assert measure.delta == 0.0
        if measure.kind == "mean":
            assert [c.name for c in measure.components] == ["sum", "count"]


@given(total=EPSILONS, parts=st.integers(min_value=1, max_value=100))
def test_split_evenly_never_overspends(total: float, parts: int) -> None:
    share = split_evenly(total, parts)
    assert math.fsum([share] * parts) <= total and sum([share] * parts) <= total
    assert share >= total / parts * (1 - 1e-12)


def test_plan_states_mechanisms_scales_and_sensitivities(toy: Dataset) -> None:
    query = StatsQuery(
        product="toy-stats",
        measures=(
            Measure("count"),
            Measure("mean", "x"),
            Measure("quantile", "n", quantiles=(0.5, 0.9)),
        ),
        group_by=("region",),
        epsilon=0.9,
    )
    count, mean, quantile = plan_query(query, toy.product, toy.meta).measures
    assert count.components[0].mechanism == "discrete_laplace"
    assert 1 / 0.3 <= count.components[0].scale <= (1 / 0.3) * (1 + 1e-12)
    assert count.components[0].sensitivity == 1
    total, entities = mean.components
    assert total.sensitivity == 1000 and total.granularity == 0.01
    assert total.epsilon == entities.epsilon == 0.15
    assert "exponential_mechanism" in quantile.mechanism
    assert [c.epsilon for c in quantile.components] == [0.15, 0.15]
    assert quantile.components[0].sensitivity == 0.5
    assert quantile.candidates == tuple(float(v) for v in range(101))
