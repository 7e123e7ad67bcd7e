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
