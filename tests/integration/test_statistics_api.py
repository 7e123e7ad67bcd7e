"""StatisticsService end to end: real server, real DuckDB and SQLite files, real OpenDP noise."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from zonekit import add_principal, make_zone_dir, running_zone, target

from zone.client import (
    InvalidArgumentError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ZoneClient,
)
from zone.client.stats import between, count, eq, histogram, isin, mean, quantiles, sum_of
from zone.products.statistics.accuracy import discrete_laplace_bound
from zone.server.app import RunningZone

PRODUCT = "enterprise-stats"


@pytest.fixture(scope="module")
def stats_zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, str]]:
    config = make_zone_dir(tmp_path_factory.mktemp("stats"))
    demo = config.parent / "policies" / "demo.yaml"  # lift the zone-wide cap for many queries
    demo.write_text(
        demo.read_text().replace("epsilon: 50.0, delta: 1.0e-5", "epsilon: 1.0e+5, delta: 1.0e-5")
    )
    token = add_principal(config, "analyst", epsilon=10_000.0, per_job_epsilon=5.0)
    with running_zone(config) as zone:
        yield zone, token


def exact(zone: RunningZone, sql: str) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = zone.services.catalog.cursor().execute(sql).fetchall()
    return rows


def remaining(client: ZoneClient) -> float:
    return client.estimate_cost(PRODUCT, [count()], epsilon=0.1).remaining_epsilon


def test_estimate_spends_nothing_and_states_the_plan(stats_zone: tuple[RunningZone, str]) -> None:
    zone, token = stats_zone
    with ZoneClient(target(zone), token=token) as analyst:
        before = remaining(analyst)
        estimate = analyst.estimate_cost(
            PRODUCT, [count(), mean("employees")], epsilon=1.0, group_by=["district"]
        )
        assert remaining(analyst) == before
    assert estimate.epsilon == pytest.approx(1.0) and estimate.delta == 0
    assert [m.kind for m in estimate.measures] == ["count", "mean"]
    assert sum(m.epsilon for m in estimate.measures) <= 1.0 + 1e-12
    assert estimate.measures[0].noise_scales[0] == pytest.approx(2.0)  # 1 / (epsilon / 2)
    assert len(estimate.measures[1].mechanisms) == 2  # a mean is a sum and a count
    assert "entity" in estimate.guarantee


def test_group_by_count_releases_exactly_the_declared_keys(
    stats_zone: tuple[RunningZone, str],
) -> None:
    zone, token = stats_zone
    truth = dict(exact(zone, 'SELECT district, count(*) FROM "ds_enterprises" GROUP BY 1'))
    domain = zone.services.catalog.get("enterprises").meta.columns["district"].domain
    with ZoneClient(target(zone), token=token) as analyst:
        before = remaining(analyst)
        result = analyst.query_statistics(PRODUCT, [count()], epsilon=1.0, group_by=["district"])
        after = remaining(analyst)
    assert after == pytest.approx(before - 1.0)
    assert result.charged_epsilon == pytest.approx(1.0)
    cells = result.results[0].cells
    assert list(cells) == [(str(d),) for d in domain or ()]
    for (district,), (noisy,) in cells.items():
        assert abs(noisy - truth.get(district, 0)) < 25  # discrete Laplace, scale 1
        assert noisy == int(noisy)  # integer counts, no rounding artefacts
    entries = zone.services.audit.entries(since_seq=0, limit=10_000)
    receipts = [e.record for e in entries if e.kind == "release"]
    assert receipts[-1]["release_id"] == result.release_id
    assert receipts[-1]["output_digest"] == result.output_digest


def test_measures_filters_and_sums(stats_zone: tuple[RunningZone, str]) -> None:
    zone, token = stats_zone
    [(n, total)] = exact(
        zone,
        'SELECT count(*), sum(least(greatest(employees, 0), 5000)) FROM "ds_enterprises" '
        "WHERE founded_year BETWEEN 2000 AND 2015 AND industry IN ('C', 'F')",
    )
    with ZoneClient(target(zone), token=token) as analyst:
        result = analyst.query_statistics(
            PRODUCT,
            [count(), sum_of("employees"), quantiles("founded_year", [0.5]),
             histogram("industry")],
            epsilon=1.0,  # the product's cap: a quarter per measure
            filters=[between("founded_year", 2000, 2015), isin("industry", ["C", "F"])],
        )  # fmt: skip
    counted, summed, median, hist = (r.cells[()] for r in result.results)
    count_scale, sum_scale, _, hist_scale = (r.plan.noise_scales[0] for r in result.results)
    assert count_scale == pytest.approx(4.0) == hist_scale  # 1 / (1.0 / 4 measures)
    # Discrete Laplace: P(|noise| >= k * scale) < 1.2 * e^-k, so these bounds fail by chance
    # with probability below 1e-5 in all (fixed bounds of 7.5 scales failed about 1% of runs).
    assert abs(counted[0] - float(n)) < 14 * count_scale  # type: ignore[arg-type]
    assert abs(summed[0] - float(total)) < 14 * sum_scale  # type: ignore[arg-type]
    assert 2000 <= median[0] <= 2015
    labels = result.results[3].bin_labels
    assert len(labels) == 20 and len(hist) == 20
    outside = [abs(v) for label, v in zip(labels, hist, strict=True) if label not in {"C", "F"}]
    # Filtered out: only noise around 0 (mean |noise| is about one scale; without the filter
    # these bins would hold tens of enterprises each).
    assert sum(outside) / len(outside) < 3 * hist_scale
    assert max(outside) < 17 * hist_scale


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"measures": [sum_of("legal_rep_id")]}, "legal_rep_id"),  # L4
        ({"measures": [sum_of("no_such_column")]}, "no_such_column"),
        ({"measures": [count()], "group_by": ['district"; DROP TABLE x; --']}, "DROP"),
        ({"measures": [count()], "group_by": ["uscc"]}, "uscc"),  # no public domain
        ({"measures": [count()], "filters": [eq("founded_year", "nineteen")]}, "integer"),
        ({"measures": [count()], "filters": [between("employees", 10, 1)]}, "low"),
        ({"measures": [count()], "filters": [eq("district", "Atlantis")]}, "declared domain"),
        ({"measures": [mean("default_flag")]}, "default_flag"),  # not allowed by the product
        ({"measures": [count()], "filters": [between("penalties", 1, None)]}, "classified L3"),
        ({"measures": []}, "measure"),
    ],
)
def test_bad_queries_are_refused_and_spend_nothing(
    stats_zone: tuple[RunningZone, str], kwargs: dict[str, object], message: str
) -> None:
    zone, token = stats_zone
    with ZoneClient(target(zone), token=token) as analyst:
        before = remaining(analyst)
        with pytest.raises(InvalidArgumentError) as err:
            analyst.query_statistics(PRODUCT, epsilon=0.5, **kwargs)  # type: ignore[arg-type]
        assert message in err.value.message + " ".join(err.value.details)
        assert remaining(analyst) == before


def test_epsilon_above_the_cap_is_permission_denied(stats_zone: tuple[RunningZone, str]) -> None:
    zone, token = stats_zone
    with ZoneClient(target(zone), token=token) as analyst:
        before = remaining(analyst)
        with pytest.raises(PermissionDeniedError, match="cap"):
            analyst.query_statistics(PRODUCT, [count()], epsilon=1.5)  # product cap is 1.0
        for bad in (0.0, -1.0, math.nan, math.inf):
            with pytest.raises(InvalidArgumentError):
                analyst.query_statistics(PRODUCT, [count()], epsilon=bad)
        assert remaining(analyst) == before


def test_product_not_granted(stats_zone: tuple[RunningZone, str]) -> None:
    zone, token = stats_zone
    with ZoneClient(target(zone), token=token) as analyst:
        for product in ("enterprise-default-lr", "no-such-product"):
            with pytest.raises(PermissionDeniedError):
                analyst.query_statistics(product, [count()], epsilon=0.1)


def test_differencing_is_charged_twice_and_answers_are_noisy(
    stats_zone: tuple[RunningZone, str],
) -> None:
    zone, token = stats_zone
    [(victim,)] = exact(zone, 'SELECT min(founded_year) FROM "ds_enterprises"')
    with ZoneClient(target(zone), token=token) as analyst:
        before = remaining(analyst)
        a = analyst.query_statistics(PRODUCT, [count()], epsilon=0.5)
        b = analyst.query_statistics(
            PRODUCT, [count()], epsilon=0.5, filters=[between("founded_year", victim + 1, None)]
        )
        assert remaining(analyst) == pytest.approx(before - 1.0)
        repeats = {
            analyst.query_statistics(PRODUCT, [count()], epsilon=0.5).results[0].cells[()][0]
            for _ in range(6)
        }
    assert len(repeats) > 1  # fresh noise every time
    assert a.release_id != b.release_id


def test_released_count_noise_matches_the_stated_scale(
    stats_zone: tuple[RunningZone, str],
) -> None:
    """Many releases of 16 counts: error variance and mean fit the stated discrete Laplace."""
    zone, token = stats_zone
    truth = dict(exact(zone, 'SELECT district, count(*) FROM "ds_enterprises" GROUP BY 1'))
    errors: list[float] = []
    scales: set[float] = set()
    with ZoneClient(target(zone), token=token) as analyst:
        for _ in range(120):
            result = analyst.query_statistics(
                PRODUCT, [count()], epsilon=1.0, group_by=["district"]
            )
            scales.add(result.results[0].plan.noise_scales[0])
            errors += [v[0] - truth.get(k[0], 0) for k, v in result.results[0].cells.items()]
    assert len(scales) == 1
    (scale,) = scales
    assert scale == pytest.approx(1.0)
    q = math.exp(-1 / scale)
    variance = 2 * q / (1 - q) ** 2  # discrete Laplace with this scale
    n = len(errors)
    sample_var = sum(e * e for e in errors) / n
    assert abs(sum(errors) / n) < 4 * math.sqrt(variance / n)  # unbiased
    # The relative standard error of a Laplace variance estimate is about sqrt(5 / n) (5%
    # here); a scale off by a factor of 1.5 moves the variance by more than 80%.
    assert abs(sample_var / variance - 1) < 0.25


def test_forty_concurrent_queries_against_a_budget_of_one_grant_ten(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path)
    token = add_principal(config, "racer", epsilon=1.0)
    outcomes: list[str] = []
    barrier = threading.Barrier(40)
    with running_zone(config) as zone:

        def ask() -> None:
            with ZoneClient(target(zone), token=token) as client:
                barrier.wait()
                try:
                    client.query_statistics(PRODUCT, [count()], epsilon=0.1)
                    outcomes.append("ok")
                except ResourceExhaustedError as err:
                    assert any("remaining epsilon" in d for d in err.details)
                    outcomes.append("exhausted")

        threads = [threading.Thread(target=ask) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with ZoneClient(target(zone), token=token) as client:
            left = client.estimate_cost(PRODUCT, [count()], epsilon=0.1).remaining_epsilon
    assert outcomes.count("ok") == 10 and outcomes.count("exhausted") == 30
    assert left == 0.0


def test_the_server_opens_duckdb_with_the_default_memory_limit(
    stats_zone: tuple[RunningZone, str],
) -> None:
    zone, _ = stats_zone
    assert zone.services.config.duckdb.memory_limit == "192MB"
    (limit,) = exact(zone, "SELECT current_setting('memory_limit')")[0]
    assert limit == "183.1 MiB"  # 192 * 10**6 bytes


def test_every_cell_carries_its_error_bound_and_low_signal_flag(
    stats_zone: tuple[RunningZone, str],
) -> None:
    zone, token = stats_zone
    with ZoneClient(target(zone), token=token) as analyst:
        estimate = analyst.estimate_cost(PRODUCT, [count(), mean("employees")], epsilon=0.02)
        result = analyst.query_statistics(
            PRODUCT,
            [count(), mean("employees"), quantiles("founded_year", [0.5])],
            epsilon=0.03,  # 0.01 per measure: small groups are noise
            group_by=["district", "industry"],
        )
    # The estimate states the data-independent bounds before anything is spent.
    assert estimate.measures[0].error_bounds == (discrete_laplace_bound(100.0),)
    counts, means, medians = result.results
    assert counts.plan.error_bounds == (discrete_laplace_bound(counts.plan.noise_scales[0]),)
    assert "discrete Laplace" in counts.error_bound_method and "ranks" in medians.error_bound_method
    for key, (value,) in counts.cells.items():
        (bound,) = counts.error_bounds[key]
        assert bound == counts.plan.error_bounds[0]  # public: the same for every cell
        assert counts.low_signal[key] == ((bound >= abs(value)),)
    assert set(means.support) == set(means.cells)  # a mean's noisy count is released with it
    assert all(len(means.error_bounds[k]) == 1 for k in means.cells)
    # 320 groups of about 300 enterprises at epsilon 0.005 per part: many means are noise.
    assert any(flags[0] for flags in means.low_signal.values())
