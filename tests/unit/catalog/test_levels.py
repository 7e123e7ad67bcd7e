"""Classification levels: each level by each use at product loading, and the documented table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zone.catalog import DatasetMeta, load_metadata, load_products
from zone.catalog.levels import ALLOWED, LEVEL_NAMES, Use, allows
from zone.errors import ValidationFailed

ROOT = Path(__file__).resolve().parents[3]
LEVELS = ("L1", "L2", "L3", "L4")


def _columns() -> dict[str, dict[str, object]]:
    columns: dict[str, dict[str, object]] = {"id": {"type": "string", "level": "L3"}}
    for level in LEVELS:
        tag = level.lower()
        columns[f"num_{tag}"] = {"type": "integer", "level": level, "bounds": [0, 100]}
        columns[f"cat_{tag}"] = {"type": "string", "level": level, "domain": ["a", "b"]}
        columns[f"free_{tag}"] = {"type": "string", "level": level}
        columns[f"flag_{tag}"] = {"type": "integer", "level": level, "domain": [0, 1]}
    return columns


META = DatasetMeta.model_validate(
    {"description": "d", "provider": "p", "entity_key": "id", "columns": _columns()}
)
HEAD = "id: p\ndataset: ds\ndescription: d\n"
STATS = HEAD + "kind: statistics\nmax_epsilon_per_query: 1.0\n"
TRAIN = HEAD + "kind: training\nfamily: logistic_regression\nmax_epsilon_per_job: 1.0\n"
VERIFY = HEAD + "kind: verification\nkey: id\n"

# One product per use; {c} is the column of the level under test.
PRODUCTS = {
    Use.AGGREGATE: STATS + "columns: [{c}]\nmeasures: [sum, mean, quantile, histogram]\n",
    Use.GROUP_BY: STATS + "columns: [{c}]\ngroup_by: [{c}]\nmeasures: [count]\n",
    Use.KEY_SELECTION: STATS + "columns: [{c}]\ngroup_by: [{c}]\nmeasures: [count]\n"
    "key_selection: true\n",
    Use.TRAINING: TRAIN + "features: [{c}]\nlabel: flag_l1\n",
    Use.VERIFICATION: VERIFY + "claims: {{{c}: {{tolerance: 0}}}}\nscore_features: [{c}]\n",
}
COLUMN_OF = {
    Use.AGGREGATE: "num",
    Use.GROUP_BY: "cat",
    Use.KEY_SELECTION: "free",
    Use.TRAINING: "num",
    Use.VERIFICATION: "num",
}


def _load(tmp_path: Path, text: str) -> list[str]:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / "p.yaml").write_text(text, encoding="utf-8")
    try:
        load_products(models, {"ds": META})
    except ValidationFailed as exc:
        return [p.message for p in exc.problems]
    return []


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("use", [u for u in Use if u in PRODUCTS], ids=lambda u: u.name)
def test_product_loading_follows_the_table(tmp_path: Path, level: str, use: Use) -> None:
    column = f"{COLUMN_OF[use]}_{level.lower()}"
    problems = _load(tmp_path, PRODUCTS[use].format(c=column))
    if allows(level, use):  # type: ignore[arg-type]
        assert problems == []
    else:
        assert problems and all(f"classified {level}" in p for p in problems), problems


def test_a_training_label_follows_the_table(tmp_path: Path) -> None:
    for level in LEVELS:
        text = TRAIN + f"features: [num_l1]\nlabel: flag_{level.lower()}\n"
        problems = _load(tmp_path, text)
        assert (problems == []) == (level != "L4"), (level, problems)


def test_the_demo_metadata_and_products_fit_the_table() -> None:
    meta = load_metadata(ROOT / "examples" / "enterprises.meta.yaml")
    products = load_products(ROOT / "models", {"enterprises": meta})
    assert set(products) == {"enterprise-stats", "enterprise-default-lr", "capital-match"}


def _documented() -> dict[str, dict[str, bool]]:
    """The level table of docs/ARCHITECTURE.md: row title -> level -> yes/no."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Classification levels", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"^\| [a-z]", line)]
    table = {}
    for row in rows[1:]:  # the header row first
        cells = [c.strip() for c in row.strip("|").split("|")]
        table[cells[0]] = dict(zip(LEVELS, (c == "yes" for c in cells[1:]), strict=True))
    return table


DOC_ROWS = {
    "aggregated (sum, mean, quantile, histogram of its values)": Use.AGGREGATE,
    "training feature or label": Use.TRAINING,
    "verification (subject key, claim, score feature)": Use.VERIFICATION,
    "filter the population of a statistic": Use.FILTER,
    "group by its declared public domain": Use.GROUP_BY,
    "group by keys selected from the data (DP key selection)": Use.KEY_SELECTION,
}


def test_the_documented_table_is_the_enforced_one() -> None:
    documented = _documented()
    assert set(documented) == set(DOC_ROWS)
    for title, use in DOC_ROWS.items():
        assert documented[title] == {level: use in ALLOWED[level] for level in LEVELS}, title  # type: ignore[index]
    assert list(LEVEL_NAMES) == list(LEVELS) and ALLOWED["L4"] == frozenset()


def test_the_level_field_is_described_for_the_reference() -> None:
    schema = DatasetMeta.model_json_schema()
    description = schema["$defs"]["ColumnMeta"]["properties"]["level"]["description"]
    assert all(level in description for level in LEVELS)
