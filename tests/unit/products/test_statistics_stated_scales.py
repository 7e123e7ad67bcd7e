"""The noise scales a Query reply states are the noise actually added, in the units it states.

Every measure kind is released many times through the real path (plan, DuckDB, OpenDP,
post-processing), its reply is built by the server's converter and read back by the SDK, and
the empirical variance of the released values is compared with the variance that the reply's
``noise_scales`` and ``steps`` imply:

* counts, histograms and sums: discrete Laplace noise is a whole number of steps, so the noise
  in released units has variance ``step**2 * V(scale / step)``, ``V`` being the discrete
  Laplace variance;
* means: noisy sum over noisy count, clamped; its exact variance under the stated sum and count
  scales is summed over both noise distributions;
* quantiles: report noisy max with exponential noise of the stated scale on the normalised
  quantile scores (ranks); the distribution over the candidates is integrated numerically.

Sizes: one release has 1,000 groups of 40 identical entities (so every cell is an independent
draw of the same distribution) and 30 releases give 30,000 draws per measure. The relative
standard error of a sample variance is sqrt((kurtosis - 1) / n): at most 1.3 % here (Laplace
kurtosis 6), so a 10 % tolerance is 7.7 standard errors; a single draw big enough to move the
variance by 10 % has probability about n * exp(-77). A correct zone fails this test with
probability below 1e-12. The unit error it guards against (a float sum's scale stated in
steps of 0.1) is a factor of 100 in variance.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from statskit import Dataset, load_table

from zone.catalog import DatasetMeta, StatisticsProduct, table_name
from zone.client.stats import StatisticsRelease, release_from_proto
from zone.ledger import Amount, Balance
from zone.products.statistics import Measure, StatsQuery, execute, plan_query
from zone.products.statistics.service import Outcome
from zone.server.servicers.stats_convert import outcome_to_proto

GROUPS = 1_000
PER_GROUP = 40
RELEASES = 30
TOLERANCE = 0.10
# One group's values (the same in every group): 40 entities.
INTEGERS = [(i * 7) % 41 - 20 for i in range(PER_GROUP)]  # bounds [-20, 20]
FLOATS = [round(((i * 13) % 31) / 10 - 0.5, 1) for i in range(PER_GROUP)]  # [-2, 2], step 0.1
RANKS = [i % 11 for i in range(PER_GROUP)]  # bounds [0, 10]: 11 integer candidates

Floats = npt.NDArray[np.float64]


def _meta() -> DatasetMeta:
    keys = [f"k{i:04d}" for i in range(GROUPS)]
    return DatasetMeta.model_validate({
        "description": "Identical groups",
        "provider": "Tests",
        "entity_key": "id",
        "columns": {
            "id": {"type": "string", "level": "L3"},
            "g": {"type": "string", "level": "L1", "domain": keys},
            "i": {"type": "integer", "level": "L2", "bounds": [-20, 20]},
            "f": {"type": "float", "level": "L2", "bounds": [-2, 2], "granularity": 0.1},
            "r": {"type": "integer", "level": "L2", "bounds": [0, 10]},
        },
    })  # fmt: skip


def _product() -> StatisticsProduct:
    return StatisticsProduct.model_validate({
        "id": "same-stats", "kind": "statistics", "dataset": "same",
        "description": "Identical groups", "columns": ("g", "i", "f", "r"), "group_by": ("g",),
        "measures": ("count", "sum", "mean", "histogram", "quantile"),
        "max_epsilon_per_query": 100.0,
    })  # fmt: skip


@pytest.fixture(scope="module")
def same(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataset]:
    rows = range(GROUPS * PER_GROUP)
    frame = pd.DataFrame({
        "id": [f"e{n}" for n in rows],
        "g": [f"k{n // PER_GROUP:04d}" for n in rows],
        "i": [INTEGERS[n % PER_GROUP] for n in rows],
        "f": [FLOATS[n % PER_GROUP] for n in rows],
        "r": [RANKS[n % PER_GROUP] for n in rows],
    })  # fmt: skip
    con = load_table(Path(tmp_path_factory.mktemp("same")) / "zone.duckdb", "same", frame)
    yield Dataset(_meta(), _product(), con, table_name("same"), frame)
    con.close()


MEASURES = (
    Measure("count"),
    Measure("sum", "i"),
    Measure("sum", "f"),
    Measure("mean", "f"),
    Measure("histogram", "f", bins=4),
    Measure("quantile", "r", quantiles=(0.5,)),
)


@pytest.fixture(scope="module")
def releases(same: Dataset) -> list[StatisticsRelease]:
    """30 releases at epsilon 1.5 per measure, each as the SDK reads the Query reply."""
    query = StatsQuery(
        product="same-stats", measures=MEASURES, group_by=("g",), epsilon=1.5 * len(MEASURES)
    )
    plan = plan_query(query, same.product, same.meta)
    cursor = same.con.cursor()
    zero = Amount(0, 0)
    balance = Balance(zero, zero, zero, None)
    out = []
    for n in range(RELEASES):
        release = execute(plan, cursor, same.table)
        outcome = Outcome(f"r{n}", plan, release, zero, balance, "v1", "sha256:x")
        out.append(release_from_proto(outcome_to_proto(outcome)))
    return out


def _values(releases: list[StatisticsRelease], index: int) -> Floats:
    """Every released value of measure ``index`` over all releases and groups, by bin."""
    cells = [v for r in releases for v in r.results[index].cells.values()]
    assert len(cells) == RELEASES * GROUPS
    return np.array(cells, dtype=np.float64)


def discrete_laplace_pmf(scale: float, reach: int) -> tuple[npt.NDArray[np.int64], Floats]:
    """Support -reach..reach and P(k) = (1 - p) / (1 + p) * p**|k|, p = exp(-1 / scale)."""
    p = math.exp(-1.0 / scale)
    k = np.arange(-reach, reach + 1)
    return k, (1 - p) / (1 + p) * p ** np.abs(k)


def noise_variance(scale: float, step: float) -> float:
    """Variance of discrete Laplace noise of ``scale`` on the lattice of ``step``."""
    p = math.exp(-step / scale)
    return step**2 * 2.0 * p / (1.0 - p) ** 2


def matches(sample: Floats, expected: float) -> bool:
    """Sample variance within ``TOLERANCE`` of ``expected`` (see the module docstring)."""
    return abs(float(np.var(sample, ddof=1)) / expected - 1.0) <= TOLERANCE


def _stated(releases: list[StatisticsRelease], index: int) -> tuple[list[float], list[float]]:
    plan = releases[0].results[index].plan
    for r in releases:
        assert r.results[index].plan == plan, "every release states the same plan"
    return list(plan.noise_scales), list(plan.steps)


@pytest.mark.parametrize(
    ("index", "truth", "step"),
    [
        (0, PER_GROUP, 1.0),
        (1, sum(INTEGERS), 1.0),
        (2, round(sum(FLOATS), 1), 0.1),
    ],
    ids=["count", "sum-integer", "sum-float"],
)
def test_counts_and_sums_have_the_stated_noise(
    releases: list[StatisticsRelease], index: int, truth: float, step: float
) -> None:
    scales, steps = _stated(releases, index)
    assert steps == [step]
    noise = _values(releases, index)[:, 0] - truth
    assert np.allclose(noise / step, np.round(noise / step)), "a whole number of steps"
    assert matches(noise, noise_variance(scales[0], step))


def test_float_sum_states_the_scale_in_the_column_units(
    releases: list[StatisticsRelease],
) -> None:
    plan = releases[0].results[2].plan
    # Sensitivity max(|-2|, |2|) = 2.0 in the column's units (20 steps of 0.1); epsilon 1.5.
    assert plan.sensitivities == (pytest.approx(2.0),)
    assert plan.noise_scales == (pytest.approx(2.0 / 1.5),)


def test_histogram_bins_have_the_stated_noise(releases: list[StatisticsRelease]) -> None:
    scales, steps = _stated(releases, 4)
    edges = np.linspace(-2.0, 2.0, 5)
    truth = np.histogram(FLOATS, bins=edges)[0]
    noise = _values(releases, 4) - truth
    assert steps == [1.0]
    for b in range(4):
        assert matches(noise[:, b], noise_variance(scales[0], 1.0)), f"bin {b}"


def mean_variance(sum_scale: float, count_scale: float, step: float) -> float:
    """Exact variance of clamp((S + N_s) / max(C + N_c, 1), -2, 2) under the stated noise.

    ``N_s`` and ``N_c`` are independent discrete Laplace noises (in steps of ``step`` and in
    entities), ``S`` and ``C`` the group's exact sum and count; the tails past 60 scales are
    below 1e-26 and left out.
    """
    ks, ps = discrete_laplace_pmf(sum_scale / step, math.ceil(60 * sum_scale / step))
    kc, pc = discrete_laplace_pmf(count_scale, math.ceil(60 * count_scale))
    total = round(sum(FLOATS) / step) + ks
    count = np.maximum(PER_GROUP + kc, 1)
    mean = np.clip(np.outer(total * step, 1.0 / count), -2.0, 2.0)
    weight = np.outer(ps, pc)
    first = float(np.sum(weight * mean))
    return float(np.sum(weight * mean**2)) - first**2


def test_mean_has_the_stated_noise_on_both_components(
    releases: list[StatisticsRelease],
) -> None:
    (sum_scale, count_scale), steps = _stated(releases, 3)
    assert steps == [0.1, 1.0]
    assert matches(_values(releases, 3)[:, 0], mean_variance(sum_scale, count_scale, 0.1))


def quantile_distribution(scale: float, alpha: float) -> Floats:
    """P(each candidate 0..10) under report noisy max with exponential noise of ``scale``.

    Normalised score of candidate c: |(1 - alpha) #(x < c) - alpha #(x > c)| (ranks); the
    release is argmax of (-score + E) with E ~ Exponential(scale), integrated on a fine grid.
    """
    values = np.array(RANKS)
    score = np.array([
        abs((1 - alpha) * np.sum(values < c) - alpha * np.sum(values > c)) for c in range(11)
    ])  # fmt: skip
    utility = -score
    x = np.linspace(utility.max(), utility.max() + 80 * scale, 400_001)
    cdf = np.where(x[None, :] >= utility[:, None], 1 - np.exp(-(x - utility[:, None]) / scale), 0)
    pdf = np.where(x[None, :] >= utility[:, None], np.exp(-(x - utility[:, None]) / scale), 0)
    pdf = pdf / scale
    out = []
    for j in range(11):
        others = np.prod(np.delete(cdf, j, axis=0), axis=0)
        out.append(np.trapezoid(pdf[j] * others, x))
    probs = np.array(out)
    assert abs(probs.sum() - 1) < 1e-6
    return probs


def test_quantile_has_the_stated_noise(releases: list[StatisticsRelease]) -> None:
    scales, steps = _stated(releases, 5)
    assert steps == [0.0]
    probs = quantile_distribution(scales[0], 0.5)
    candidates = np.arange(11.0)
    mean = float(probs @ candidates)
    expected = float(probs @ (candidates - mean) ** 2)
    assert matches(_values(releases, 5)[:, 0], expected)


def test_the_checks_fail_on_wrong_scales() -> None:
    rng = np.random.default_rng(5)
    n = RELEASES * GROUPS
    for scale, step in ((2.0 / 1.5, 0.1), (13.3, 1.0)):
        k, p = discrete_laplace_pmf(scale / step, math.ceil(60 * scale / step))
        sample = rng.choice(k, size=n, p=p / p.sum()) * step
        assert matches(sample, noise_variance(scale, step))
        assert not matches(sample, noise_variance(scale * 10, step))  # stated in steps
        assert not matches(sample, noise_variance(scale * 1.2, step))
        assert not matches(sample, noise_variance(scale / 1.2, step))
    assert mean_variance(20.0, 1.0, 0.1) > 10 * mean_variance(2.0, 1.0, 0.1)  # sum in steps
    assert abs(mean_variance(2.0, 1.5, 0.1) / mean_variance(2.0, 1.0, 0.1) - 1) > TOLERANCE
    wide, narrow = quantile_distribution(2.0, 0.5), quantile_distribution(1.0, 0.5)
    spread = [float(q @ (np.arange(11.0) - q @ np.arange(11.0)) ** 2) for q in (wide, narrow)]
    assert abs(spread[0] / spread[1] - 1) > 2 * TOLERANCE
