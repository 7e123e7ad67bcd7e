from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from zone.catalog import DatasetMeta, load_metadata
from zone.errors import ValidationFailed

VALID = """\
description: Registered enterprises
provider: Market regulation bureau
entity_key: uscc
columns:
  uscc: {type: string, level: L3, description: "Unified social credit code"}
  district: {type: string, level: L1, description: "District", domain: [a, b, c]}
  founded_year: {type: integer, level: L1, description: "Year", bounds: [1980, 2025]}
  capital: {type: float, level: L2, bounds: [0, 1500000.0]}
  default_flag: {type: integer, level: L2, domain: [0, 1]}
  listed: {type: boolean, level: L1}
  founded_on: {type: date, level: L2, domain: ["2020-01-01", "2021-01-01"]}
  owner_id: {type: string, level: L4}
"""

Write = Callable[[str, str], Path]


def problems_of(path: Path) -> list[tuple[int | None, str]]:
    with pytest.raises(ValidationFailed) as caught:
        load_metadata(path)
    assert all(p.source == str(path) for p in caught.value.problems)
    return [(p.line, p.message) for p in caught.value.problems]


def test_valid_metadata_loads(write: Write) -> None:
    meta = load_metadata(write("m.yaml", VALID))
    assert meta.entity_key == "uscc"
    assert list(meta.columns)[:3] == ["uscc", "district", "founded_year"]
    assert meta.columns["founded_year"].bounds == (1980.0, 2025.0)
    assert meta.columns["district"].domain == ("a", "b", "c")
    assert meta.columns["default_flag"].domain == (0, 1)
    assert meta.columns["listed"].public_domain == (False, True)
    assert meta.columns["capital"].public_domain is None
    assert meta.columns["capital"].is_numeric
    assert meta.columns["owner_id"].level == "L4"


def test_json_round_trip_is_canonical(write: Write) -> None:
    meta = load_metadata(write("m.yaml", VALID))
    text = meta.to_json()
    assert DatasetMeta.from_json(text) == meta
    assert DatasetMeta.from_json(text).to_json() == text
    assert " " not in text.replace("Registered enterprises", "").split('"description"')[0]
    lines = VALID.splitlines()
    reordered = "\n".join([lines[2], lines[1], lines[0], *lines[3:]]) + "\n"
    assert load_metadata(write("r.yaml", reordered)).to_json() == text


def test_many_problems_reported_at_once_with_lines(write: Write) -> None:
    text = """\
description: ""
provider: Bureau
entity_key: missing
columns:
  name: {type: string, level: L1, bounds: [0, 1]}
  year: {type: integer, level: L5}
  capital: {type: float, level: L2, bounds: [10, 1]}
  ratio: {type: float, level: L2, domain: [1, 2]}
  district: {type: string, level: L1, domain: [1, 2]}
  kind: {type: string, level: L1, domain: [a, a]}
  code: {type: integer, level: L1, domain: []}
  size: {type: integer, level: L1, bounds: [0, .inf]}
  colour: {type: text, level: L1}
  extra: {type: string, level: L1, secret: true}
  flag: {type: boolean, level: L1, domain: [0, 1]}
  day: {type: date, level: L1, domain: ["2020-02-30"]}
unknown_field: 1
"""
    found = problems_of(write("m.yaml", text))
    lines = {line for line, _ in found}
    assert lines == {1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}
    messages = dict(found)
    assert "must not be empty" in messages[1]
    assert "bounds are allowed only on integer and float" in messages[5]
    assert "L1" in messages[6] and "level" in messages[6]
    assert "low < high" in messages[7]
    assert "float column cannot have a domain" in messages[8]
    assert "must be strings" in messages[9]
    assert "unique" in messages[10]
    assert "at least one value" in messages[11]
    assert "finite" in messages[12]
    assert "type" in messages[13]
    assert "secret" in messages[14]
    assert "fixed domain" in messages[15]
    assert "YYYY-MM-DD" in messages[16]
    assert "unknown_field" in messages[17]


def test_entity_key_must_be_a_string_or_integer_column(write: Write) -> None:
    base = "description: d\nprovider: p\ncolumns:\n  a: {type: float, level: L1}\n"
    assert problems_of(write("m.yaml", base + "entity_key: b\n"))[0][0] == 5
    found = problems_of(write("n.yaml", base + "entity_key: a\n"))
    assert found[0][0] == 5 and "string or integer" in found[0][1]


@pytest.mark.parametrize(
    "name",
    [
        'a"b',
        "a b",
        "1abc",
        "a-b",
        'x"; DROP TABLE ds_x; --',
        "tab\tle",
        "né",
        "a" * 64,
        "",
    ],
)
def test_injection_looking_column_names_are_refused(write: Write, name: str) -> None:
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    text = (
        "description: d\nprovider: p\nentity_key: id\ncolumns:\n"
        f'  id: {{type: string, level: L3}}\n  "{quoted}": {{type: string, level: L1}}\n'
    )
    found = problems_of(write("m.yaml", text))
    assert found == [(6, found[0][1])]
    assert "column names must match" in found[0][1]


def test_newline_in_column_name_is_refused() -> None:
    with pytest.raises(ValueError, match="column names must match"):
        DatasetMeta.model_validate(
            {
                "description": "d",
                "provider": "p",
                "entity_key": "id",
                "columns": {
                    "id": {"type": "string", "level": "L1"},
                    "a\n": {"type": "string", "level": "L1"},
                },
            }
        )


def test_column_names_differing_only_in_case_are_refused(write: Write) -> None:
    text = (
        "description: d\nprovider: p\nentity_key: id\ncolumns:\n"
        "  id: {type: string, level: L3}\n  ID: {type: string, level: L1}\n"
    )
    found = problems_of(write("m.yaml", text))
    assert len(found) == 1 and "differ only in case" in found[0][1]


def test_yaml_errors_and_non_mapping_documents_are_located(write: Write) -> None:
    assert problems_of(write("a.yaml", "description: d\ncolumns: [\n"))[0][0] == 3
    assert "mapping" in problems_of(write("b.yaml", "- a\n- b\n"))[0][1]
    found = problems_of(write("c.yaml", "description: d\ndescription: e\n"))
    assert found[0][0] == 2 and "duplicate" in found[0][1]


def test_missing_required_fields_are_reported(write: Write) -> None:
    found = problems_of(write("m.yaml", "description: d\n"))
    text = " ".join(message for _, message in found)
    for field in ("provider", "columns", "entity_key"):
        assert field in text


def _with_capital(capital: dict[str, object]) -> dict[str, object]:
    return {
        "description": "d",
        "provider": "p",
        "entity_key": "id",
        "columns": {"id": {"type": "string", "level": "L3"}, "capital": capital},
    }


def test_granularity_is_optional_and_validated() -> None:
    meta = DatasetMeta.model_validate(
        _with_capital({"type": "float", "level": "L2", "bounds": [0, 100], "granularity": 0.01})
    )
    assert meta.columns["capital"].granularity == 0.01
    assert DatasetMeta.from_json(meta.to_json()) == meta
    integer = {"type": "integer", "level": "L2", "bounds": [0, 100], "granularity": 5}
    assert DatasetMeta.model_validate(_with_capital(integer)).columns["capital"].granularity == 5
    for bad, message in [
        ({"type": "string", "level": "L2", "granularity": 1.0}, "only on integer and float"),
        ({"type": "float", "level": "L2", "granularity": 0.0}, "finite number > 0"),
        ({"type": "float", "level": "L2", "granularity": -1.0}, "finite number > 0"),
        ({"type": "float", "level": "L2", "granularity": float("inf")}, "finite number > 0"),
        ({"type": "float", "level": "L2", "bounds": [0, 1], "granularity": 2.0}, "width"),
    ]:
        with pytest.raises(ValueError, match=message):
            DatasetMeta.model_validate(_with_capital(bad))


def test_absent_granularity_keeps_the_canonical_json(write: Write) -> None:
    meta = load_metadata(write("m.yaml", VALID))
    assert "granularity" not in meta.to_json()
    assert meta.columns["capital"].granularity is None


def test_violation_policy_and_max_length_are_checked(write: Write) -> None:
    text = """\
description: d
provider: p
entity_key: k
columns:
  k: {type: string, level: L3, on_violation: "null"}
  a: {type: integer, level: L1, on_violation: clamp}
  b: {type: integer, level: L1, max_length: 3}
  c: {type: string, level: L1, on_violation: drop}
  d: {type: string, level: L1, max_length: 0}
"""
    found = problems_of(write("m.yaml", text))
    messages = " | ".join(message for _, message in found)
    assert "clamp needs bounds" in messages
    assert "max_length is allowed only on string columns" in messages
    assert "'refuse', 'null' or 'clamp'" in messages
    assert "greater than or equal to 1" in messages
    # (the entity key is checked only once every column passed, as the second test shows)


def test_policies_at_their_defaults_leave_the_canonical_json_unchanged(write: Write) -> None:
    meta = load_metadata(write("m.yaml", VALID))
    assert "on_violation" not in meta.to_json() and "max_length" not in meta.to_json()
    assert meta.max_length("uscc") == 256 and meta.max_length("district") == 65_536
    extra = VALID.replace("domain: [a, b, c]}", 'domain: [a, b, c], on_violation: "null"}')
    changed = load_metadata(write("n.yaml", extra.replace("L3,", "L3, max_length: 18,", 1)))
    assert changed.columns["district"].on_violation == "null" and changed.max_length("uscc") == 18
    bad_key = VALID.replace("L3,", 'L3, on_violation: "null",', 1)
    assert any("entity key's on_violation" in m for _, m in problems_of(write("k.yaml", bad_key)))


OPEN_DATA = """\
open_data:
  open_level: conditional
  open_mode: data sandbox
  responsible_provider: Market regulation bureau
  registration: {id: DA-1, registered_on: "2026-03-01", certificate_digest: "sha256:%s"}
"""


def test_open_data_fields_are_validated_and_kept(write: Write) -> None:
    meta = load_metadata(write("m.yaml", VALID + OPEN_DATA % ("ab" * 32)))
    assert meta.open_level == "conditional" and meta.open_data is not None
    assert meta.open_data.registration is not None
    assert meta.open_data.registration.registered_on == "2026-03-01"
    assert DatasetMeta.from_json(meta.to_json()) == meta
    assert load_metadata(write("n.yaml", VALID)).open_level == ""
    bad = (OPEN_DATA % "xyz").replace("conditional", "public").replace('"2026-03-01"', '"2026-3-1"')
    messages = " | ".join(m for _, m in problems_of(write("b.yaml", VALID + bad)))
    assert "'open', 'conditional', 'authorized_operation' or 'closed'" in messages
    assert "YYYY-MM-DD" in messages and "sha256:<64 lowercase hex digits>" in messages
