"""Execution of a planned statistics query: exact aggregates in DuckDB, noise from OpenDP.

The caller charges the ledger for ``plan.epsilon`` / ``plan.delta`` BEFORE calling
:func:`execute`; nothing here checks or spends budget.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

import zone.products.statistics.mechanisms as mechanisms
import zone.products.statistics.ranks as ranks
import zone.products.statistics.scan as scan
import zone.products.statistics.sql as sql
from zone.products.statistics.measure_plans import ComponentPlan, MeasurePlan
from zone.products.statistics.plan import QueryPlan
from zone.products.statistics.release import (
    Cell,
    KeySelectionRelease,
    MeasureRelease,
    StatsRelease,
)

GUARANTEE = (
    "Privacy unit: one entity = one row of the dataset (the import guarantees a unique entity "
    "key). Neighbouring datasets differ by adding or removing one entity (unbounded DP). "
    "Each measure is epsilon_m-DP with delta 0: counts and histograms use discrete Laplace "
    "noise with L1 sensitivity 1; sums use discrete Laplace on integer sums of values clamped "
    "to public bounds at a public granularity, with sensitivity max(|low|, |high|) in those "
    "units; a mean is a noisy sum over a noisy count, each with half of epsilon_m; quantiles "
    "use the exponential mechanism (report noisy max) over public candidates, epsilon_m split "
    "over the quantiles. Groups and bins partition the entities (parallel composition); "
    "measures compose sequentially, so the query is (sum of epsilon_m, 0)-DP, or with DP key "
    "selection (a Laplace threshold, one more epsilon share and the query's delta) "
    "(epsilon, delta)-DP. Released counts are unbiased and may be negative or fractional "
    "after post-processing; keys are exactly the declared ones (or the DP-selected ones)."
)


def execute(plan: QueryPlan, cursor: duckdb.DuckDBPyConnection, table: str) -> StatsRelease:
    """Run ``plan`` on ``table`` (a quoted ``"ds_<name>"``) and release noisy aggregates.

    Guarantee: (plan.epsilon, plan.delta)-DP under add/remove-one-entity, one entity being
    one row (see :data:`GUARANTEE`); every mechanism's OpenDP privacy map is checked against
    its planned share before it runs. The caller must have charged the budget already.

    Raises:
        InvalidArgument: ``table`` is not a dataset table name.
        PrivacyMapError: an OpenDP map did not confirm the plan (nothing is released).
    """
    sql.check_table(table)
    keys, selection = _release_keys(plan, cursor, table)
    exact = scan.exact_aggregates(plan, keys, cursor, table)
    measures = tuple(
        _release_measure(plan, m, keys, exact.get(i), cursor, table)
        for i, m in enumerate(plan.measures)
    )
    return StatsRelease(
        product=plan.product,
        dataset=plan.dataset,
        epsilon=plan.epsilon,
        delta=plan.delta,
        group_by=plan.group_by,
        measures=measures,
        key_selection=selection,
        guarantee=GUARANTEE,
    )


def _release_keys(
    plan: QueryPlan, cursor: duckdb.DuckDBPyConnection, table: str
) -> tuple[tuple[tuple[str, ...], ...], KeySelectionRelease | None]:
    """The released keys: declared ones, or DP-selected ones.

    Guarantee of the selection: (epsilon_ks, delta)-DP under add/remove-one-entity (Laplace
    threshold on per-key entity counts, sensitivity l0 = l1 = linf = 1). Keeping the highest
    noisy counts up to the cap and sorting the keys are post-processing; the noisy counts
    themselves are not released.
    """
    step = plan.key_selection
    if step is None:
        return plan.group_keys, None
    counts = sql.key_counts(plan, cursor, table)
    noisy = mechanisms.release_keys(counts, step.scale, step.threshold, step.epsilon, step.delta)
    ranked = sorted(noisy, key=lambda key: (-noisy[key], key))
    kept = tuple(sorted(ranked[: step.max_keys]))
    release = KeySelectionRelease(
        mechanism=step.mechanism,
        epsilon=step.epsilon,
        delta=step.delta,
        scale=step.scale,
        threshold=step.threshold,
        keys_released=len(kept),
        truncated=len(ranked) > step.max_keys,
    )
    return kept, release


def _release_measure(
    plan: QueryPlan,
    measure: MeasurePlan,
    keys: tuple[tuple[str, ...], ...],
    exact: list[list[int]] | None,
    cursor: duckdb.DuckDBPyConnection,
    table: str,
) -> MeasureRelease:
    """One measure over ``keys``: measure.epsilon-DP (delta 0) under add/remove-one-entity.

    ``exact`` holds the measure's exact aggregates (from the query's one scan), None for a
    quantile (its rank counts are computed here). Mechanism and sensitivity per kind: see
    ``_noisy_cells``, ``_means`` and ``_quantiles``.
    """
    support: list[int | None] = [None] * len(keys)
    if exact is None:
        rows = _quantiles(plan, measure, keys, cursor, table)
    else:
        if measure.kind == "mean":
            rows, support = _means(measure, exact)
        else:
            rows = _noisy_cells(measure, exact[0])
    return MeasureRelease(
        kind=measure.kind,
        column=measure.column,
        mechanism=measure.mechanism,
        epsilon=measure.epsilon,
        delta=measure.delta,
        noise_scale={c.name: c.released_scale for c in measure.components},
        group_by=plan.group_by,
        cells=tuple(
            Cell(key, values, support=n) for key, values, n in zip(keys, rows, support, strict=True)
        ),
        bin_labels=measure.bin_labels,
        quantiles=measure.quantiles,
    )


def _laplace(component: ComponentPlan, exact: list[int]) -> list[int]:
    """Discrete Laplace on exact integer aggregates.

    Guarantee: component.epsilon-DP under add/remove-one-entity, L1 sensitivity
    ``component.sensitivity`` (1 for disjoint counts; max |clamped value| in integer units for
    disjoint sums); the OpenDP map is checked. Sums are capped to the int64 range first
    (a 1-Lipschitz transformation, so the sensitivity is unchanged).
    """
    limit = 2**62
    capped = [min(max(v, -limit), limit) for v in exact]
    return mechanisms.release_laplace(
        capped, int(component.sensitivity), component.scale, component.epsilon
    )


def _noisy_cells(measure: MeasurePlan, exact: list[int]) -> list[tuple[float, ...]]:
    """Counts, histograms and sums: measure.epsilon-DP, discrete Laplace (see ``_laplace``)."""
    component = measure.components[0]
    noisy = _laplace(component, exact)
    unit = component.granularity or 1.0
    values = [_in_units(v, unit) for v in noisy]
    bins = measure.bins
    return [tuple(values[i : i + bins]) for i in range(0, len(values), bins)]


def _in_units(units: int, granularity: float) -> float:
    """``units * granularity`` computed in decimal (so 9930900 x 0.1 is 993090.0, not ...01)."""
    return float(Decimal(units) * Decimal(repr(granularity)))


def _means(
    measure: MeasurePlan, exact: list[list[int]]
) -> tuple[list[tuple[float, ...]], list[int | None]]:
    """Means (noisy sum / noisy count, clamped to the public bounds) and the noisy counts.

    The noisy counts are released with the means as their support (the same DP output).
    Guarantee: measure.epsilon-DP under add/remove-one-entity (sum and count each get half;
    sensitivities max |clamped value| in units and 1). A noisy count below 1 is taken as 1.
    """
    total, count = measure.components
    sums = _laplace(total, exact[0])
    counts = _laplace(count, exact[1])
    low, high = measure.bounds or (float("-inf"), float("inf"))
    unit = total.granularity or 1.0
    pairs = zip(sums, counts, strict=True)
    return [(min(max(s * unit / max(c, 1), low), high),) for s, c in pairs], list(counts)


def _quantiles(
    plan: QueryPlan,
    measure: MeasurePlan,
    keys: tuple[tuple[str, ...], ...],
    cursor: duckdb.DuckDBPyConnection,
    table: str,
) -> list[tuple[float, ...]]:
    """Quantiles per key: measure.epsilon-DP under add/remove-one-entity.

    Each requested quantile gets an equal share (sequential composition); within a quantile
    the keys hold disjoint entities (parallel composition). Mechanism: OpenDP exponential
    mechanism (quantile score + report noisy max) over the public candidates, on rank counts
    computed in DuckDB (``ranks``); where the candidate grid does not allow that, on rank
    counts of the fetched values (the same counts, so the same distribution).
    """
    counts = ranks.rank_counts(plan, measure, keys, cursor, table)
    if counts is None:
        values = sql.grouped_values(plan, measure, keys, cursor, table)
        counts = [mechanisms.rank_counts(v, measure.candidates) for v in values]
    per_quantile = [
        mechanisms.release_quantiles_from_counts(
            counts, measure.candidates, alpha, component.scale, component.epsilon
        )
        for alpha, component in zip(measure.quantiles, measure.components, strict=True)
    ]
    return [tuple(column[i] for column in per_quantile) for i in range(len(keys))]
