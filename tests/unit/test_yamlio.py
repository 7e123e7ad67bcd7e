from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from zone.errors import ValidationFailed
from zone.yamlio import format_loc, load_yaml, parse_yaml, validate_model


class Item(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str
    size: int


class Doc(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    items: list[Item]


def test_lines_point_at_keys_and_items() -> None:
    doc = parse_yaml("items:\n  - name: a\n    size: 1\n  - name: b\n    size: x\n", "f.yaml")
    model, problems = validate_model(doc, Doc)
    assert model is None
    assert [str(p) for p in problems] == [
        "f.yaml:5: items[1].size: Input should be a valid integer"
    ]


def test_every_problem_is_reported_at_once() -> None:
    doc = parse_yaml("items:\n  - name: 1\n    size: 1\n  - size: 2\n    extra: y\n", "f.yaml")
    _, problems = validate_model(doc, Doc)
    assert sorted(p.line or 0 for p in problems) == [2, 4, 5]


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_yaml("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert str(err.value.problems[0]) == "d.yaml:3: duplicate key 'a'"


def test_syntax_error_is_located() -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_yaml("a: [1, 2\nb: 3\n", "s.yaml")
    assert err.value.problems[0].line is not None
    assert "invalid YAML" in err.value.problems[0].message


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ValidationFailed, match="not valid UTF-8"):
        load_yaml(bad)
    with pytest.raises(ValidationFailed, match="cannot read"):
        load_yaml(tmp_path / "missing.yaml")


def test_python_tags_are_not_constructed() -> None:
    with pytest.raises(ValidationFailed):
        parse_yaml("a: !!python/object/apply:os.system ['true']\n", "t.yaml")


def test_format_loc() -> None:
    assert format_loc(("grants", 2, "budget")) == "grants[2].budget"
