from __future__ import annotations

import pytest

from zone.cli.stats import parse_filter, parse_measure, parse_value
from zone.errors import InvalidArgument


def test_values_are_typed() -> None:
    assert parse_value("2010") == 2010 and parse_value("1.5") == 1.5
    assert parse_value("Dongcheng") == "Dongcheng" and parse_value("s:2010") == "2010"


def test_measures() -> None:
    assert parse_measure("count").kind == 1
    assert parse_measure("mean:employees").column == "employees"
    assert parse_measure("histogram:employees:10").bins == 10
    assert list(parse_measure("quantile:tax_paid:0.25,0.5").quantiles) == [0.25, 0.5]
    for bad in ("count:x", "sum", "quantile:x", "histogram:x:ten", "median:x"):
        with pytest.raises(InvalidArgument):
            parse_measure(bad)


def test_filters() -> None:
    assert parse_filter("district=Nanhu").equals.string_value == "Nanhu"
    ge = parse_filter("founded_year>=2010")
    assert ge.range.low.int_value == 2010 and not ge.range.HasField("high")
    span = parse_filter("employees=10..20")
    assert (span.range.low.int_value, span.range.high.int_value) == (10, 20)
    assert [v.string_value for v in getattr(parse_filter("industry~C,F"), "in").values] == [
        "C",
        "F",
    ]
    with pytest.raises(InvalidArgument):
        parse_filter("no operator")


def test_release_rows_show_bounds_flags_and_support() -> None:
    from zone.cli.stats import CSV_HEADER, _row, _shown
    from zone.client.stats import MeasurePlan, MeasureRelease

    def plan(kind: str, column: str) -> MeasurePlan:
        return MeasurePlan(kind, column, ("m",), 0.5, 0.0, (2.0,), (1.0,), (1.0,), (6.0,))

    means = MeasureRelease(
        plan("mean", "priors"), ("race",), (), {("Asian",): (43.4,), ("Other",): (6.1,)},
        error_bounds={("Asian",): (50.0,), ("Other",): (0.4,)},
        low_signal={("Asian",): (True,), ("Other",): (False,)},
        support={("Asian",): 18, ("Other",): 2100},
    )  # fmt: skip
    small = _row(means, ("Asian",))
    assert dict(zip(CSV_HEADER, small, strict=True)) == {
        "measure": "mean(priors)", "group": "Asian", "values": "43.4",
        "error_bounds_95": "50", "low_signal": "true", "support": "18", "bound_unit": "value",
    }  # fmt: skip
    assert _shown(small) == ["mean(priors)", "Asian", "43.4 ±50", "n≈18", "LOW SIGNAL"]
    assert _shown(_row(means, ("Other",))) == ["mean(priors)", "Other", "6.1 ±0.4", "n≈2100"]
    medians = MeasureRelease(
        plan("quantile", "age"), (), (), {(): (31.0, 45.0)},
        error_bounds={(): (9.2, 9.2)}, low_signal={(): (False, False)},
    )  # fmt: skip
    assert _shown(_row(medians, ())) == ["quantile(age)", "*", "31 ±9.2 ranks, 45 ±9.2 ranks"]


def test_histogram_values_are_shown_with_their_bin_labels() -> None:
    from zone.cli.stats import _row, _shown
    from zone.client.stats import MeasurePlan, MeasureRelease

    plan = MeasurePlan("histogram", "district", ("m",), 0.5, 0.0, (2.0,), (1.0,), (1.0,), (6.0,))
    bins = MeasureRelease(
        plan, (), ("东城区", "西城区"), {(): (12.0, 30.0)},
        error_bounds={(): (4.0, 4.0)}, low_signal={(): (False, False)},
    )  # fmt: skip
    assert _shown(_row(bins, ()), bins.bin_labels) == [
        "histogram(district)", "*", "东城区: 12 ±4, 西城区: 30 ±4",
    ]  # fmt: skip
    assert _shown(_row(bins, ()), ("only one",)) == ["histogram(district)", "*", "12 ±4, 30 ±4"]
