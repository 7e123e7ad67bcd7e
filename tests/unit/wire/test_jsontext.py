"""The strict reader refuses repeated keys and undefined fields, naming them."""

from __future__ import annotations

import json
import math

import pytest

from zone.wire.jsontext import (
    MalformedEvidence,
    canonical_json,
    int_field,
    load_strict,
    require_fields,
)


def test_plain_documents_read_as_json_reads_them() -> None:
    text = '{"a": [1, 2.5, {"b": null}], "c": "\\u00e9"}'
    assert load_strict(text, "x") == json.loads(text)


@pytest.mark.parametrize(
    ("text", "key"),
    [('{"a": 1, "a": 1}', "a"), ('{"o": {"k": 1, "j": 2, "k": 3}}', "k"),
     ('[{"z": 0}, {"z": 1, "z": 1}]', "z"), ('{"\\u0061": 1, "a": 2}', "a")],
)  # fmt: skip
def test_a_repeated_key_at_any_depth_is_refused_by_name(text: str, key: str) -> None:
    with pytest.raises(MalformedEvidence, match=f"the file repeats the key '{key}'"):
        load_strict(text, "the file")


def test_not_json_and_non_finite_numbers_are_refused() -> None:
    for text in ("{oops", "", "[" * 100_000, '{"a": NaN}', "[Infinity]", b"\xff"):
        with pytest.raises(MalformedEvidence):
            load_strict(text, "x")
    assert math.isnan(load_strict('{"a": NaN}', "x", parse_constant=float)["a"])


def test_fields_are_exactly_those_defined() -> None:
    assert require_fields({"a": 1, "b": 2}, ("a",), "the doc", optional=("b",)) == {"a": 1, "b": 2}
    with pytest.raises(MalformedEvidence, match="the doc has a field .* not define: 'zz'"):
        require_fields({"a": 1, "zz": 0}, ("a",), "the doc")
    with pytest.raises(MalformedEvidence, match="the doc lacks the field 'a'"):
        require_fields({}, ("a",), "the doc")
    with pytest.raises(MalformedEvidence, match="not a JSON object"):
        require_fields([], ("a",), "the doc")


def test_integer_fields_exclude_booleans_and_text() -> None:
    assert int_field({"n": 3}, "n", "x") == 3
    for bad in (True, "3", 3.0, -1):
        with pytest.raises(MalformedEvidence, match="'n' must be an integer"):
            int_field({"n": bad}, "n", "x")


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"a": math.nan})
