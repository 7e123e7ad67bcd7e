from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from zone.errors import ValidationFailed
from zone.yamlio import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    format_loc,
    load_yaml,
    parse_yaml,
    validate_model,
)


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


# --- bounds: hostile files end in one located problem, quickly, never in a traceback --------


def alias_bomb(levels: int, width: int = 10) -> str:
    """A "billion laughs": ``width ** levels`` values once aliases are expanded."""
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def only_problem(text: str) -> str:
    with pytest.raises(ValidationFailed) as err:
        parse_yaml(text, "bomb.yaml")
    (problem,) = err.value.problems
    return str(problem)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("levels", [6, 7, 9])  # 10^6, 10^7 and 10^9 values
def test_alias_bombs_are_refused_at_the_line_that_crosses_the_bound(levels: int) -> None:
    assert only_problem(alias_bomb(levels)) == (
        f"bomb.yaml:6: more than {MAX_NODES:,} values (aliases expanded)"
    )


@pytest.mark.timeout(10)
def test_an_alias_bomb_as_a_mapping_key_is_refused() -> None:
    assert "values (aliases expanded)" in only_problem(alias_bomb(7) + "? *a6\n: 1\n")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n",
        "".join(f"{'  ' * i}k:\n" for i in range(200)),
    ],
    ids=["brackets", "braces", "block"],
)
def test_deep_nesting_is_refused(text: str) -> None:
    assert only_problem(text).endswith(f": nested deeper than {MAX_DEPTH} levels")


def test_aliases_cannot_stack_nesting_beyond_the_bound() -> None:
    half = MAX_DEPTH // 2 + 1
    text = "a: &a " + "[" * half + "]" * half + "\nb: &b " + "[" * half + "*a" + "]" * half + "\n"
    assert only_problem(text) == f"bomb.yaml:2: nested deeper than {MAX_DEPTH} levels"


def test_alias_uses_are_bounded() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    assert only_problem(text) == f"bomb.yaml:2: more than {MAX_ALIASES:,} aliases"


def test_file_size_is_bounded_before_reading_it_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(ValidationFailed, match="larger than"):
        load_yaml(big)
    with pytest.raises(ValidationFailed, match="larger than"):
        parse_yaml(big.read_text(), "big.yaml")


def test_a_recursive_alias_is_refused() -> None:
    assert only_problem("a: &a [1, *a]\n") == "bomb.yaml:1: alias *a names no finished anchor"


def test_values_python_cannot_read_are_problems_not_tracebacks() -> None:
    assert only_problem("a: " + "1" * 5000 + "\n") == "bomb.yaml:1: cannot read value as int"


def test_merge_keys_and_second_documents_are_refused() -> None:
    assert "merge keys" in only_problem("a: &a {x: 1}\nb:\n  <<: *a\n")
    assert only_problem("a: 1\n---\nb: 2\n") == (
        "bomb.yaml:2: expected a single document in the file"
    )


def test_ordinary_aliases_still_work_and_report_the_alias_line() -> None:
    doc = parse_yaml("base: &b {epsilon: 1.0, delta: 0}\nother: *b\n", "a.yaml")
    assert doc.data == {"base": {"epsilon": 1.0, "delta": 0}, "other": {"epsilon": 1.0, "delta": 0}}
    assert doc.line_of(("other", "epsilon")) == 2


scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_data_is_what_pyyaml_reads(data: object) -> None:
    text = yaml.safe_dump({"root": data}, allow_unicode=True)
    assert parse_yaml(text, "p.yaml").data == yaml.safe_load(text)
