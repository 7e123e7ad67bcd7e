"""docs/REFERENCE.md and ``zone schema``: current, complete, and true to the example files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from zone.catalog import load_metadata
from zone.catalog.product_models import PRODUCT_MODELS
from zone.cli import main
from zone.config import load_config
from zone.policy.schema import PolicyFile
from zone.reference import DOCUMENTS, json_schema, render
from zone.reference.schema import docstring_parts
from zone.yamlio import load_yaml

REPO = Path(__file__).resolve().parents[3]


def test_the_checked_in_reference_is_current() -> None:
    """CI runs ``make reference-check``; this says the same inside ``make test``."""
    current = (REPO / "docs" / "REFERENCE.md").read_text(encoding="utf-8")
    assert current == render(REPO), "docs/REFERENCE.md is stale: run `make reference`"


def described(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    nodes = {"(root)": schema, **schema.get("$defs", {})}
    for name, node in nodes.items():
        for field, prop in node.get("properties", {}).items():
            yield f"{name}.{field}", prop


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_field_has_a_meaning(name: str) -> None:
    schema = json_schema(name)
    missing = [path for path, prop in described(schema) if not prop.get("description")]
    assert missing == [], f"add these to the models' Attributes: sections: {missing}"
    assert schema["$schema"].startswith("https://json-schema.org/")
    for node in schema.get("$defs", {}).values():
        assert node["description"] and "Attributes:" not in node["description"]


def test_the_examples_shown_are_valid_files() -> None:
    load_metadata(REPO / "examples" / "enterprises.meta.yaml")
    for example in DOCUMENTS["product"].examples:
        data = load_yaml(REPO / example).data
        PRODUCT_MODELS[data["kind"]].model_validate(data)
    PolicyFile.model_validate(load_yaml(REPO / "policies" / "demo.yaml").data)
    load_config(REPO / "examples" / "zone.yaml")


def test_docstring_attributes_with_continuations_and_inheritance() -> None:
    class Base(BaseModel):
        """Base.

        Attributes:
            a: First ``a``,
                continued.
        """

        a: int = 0

    class Child(Base):
        """Child summary
        on two lines.

        Attributes:
            b: Second.
        """

        b: int = 0

    assert docstring_parts(Child) == (
        "Child summary on two lines.",
        {"a": "First `a`, continued.", "b": "Second."},
    )


def test_zone_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "config"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json_schema("config")
    assert schema["properties"]["listen"]["default"] == "127.0.0.1:50051"
    with pytest.raises(SystemExit) as usage:
        main(["schema", "nope"])
    assert usage.value.code == 2
