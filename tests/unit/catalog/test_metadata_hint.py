"""A product refused because of its dataset's metadata says where that metadata comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from zone.catalog import DatasetMeta, load_products
from zone.catalog.products import METADATA_HINT
from zone.errors import ValidationFailed

META = DatasetMeta.model_validate(
    {
        "description": "Registered enterprises",
        "provider": "Market regulation bureau",
        "entity_key": "uscc",
        "columns": {
            "uscc": {"type": "string", "level": "L3"},
            "street": {"type": "string", "level": "L2"},  # no public domain
        },
    }
)
PRODUCT = """\
id: by-street
kind: statistics
dataset: enterprises
description: Counts by street
columns: [street]
group_by: [street]
measures: [count]
max_epsilon_per_query: 1.0
"""


def test_metadata_problems_say_a_fixed_file_needs_a_reimport(tmp_path: Path) -> None:
    (tmp_path / "by-street.yaml").write_text(PRODUCT)
    with pytest.raises(ValidationFailed) as err:
        load_products(tmp_path, {"enterprises": META})
    assert "has no public domain in the metadata" in err.value.message
    assert err.value.message.endswith(METADATA_HINT)
    assert "import" in METADATA_HINT and "dataset database" in METADATA_HINT


def test_problems_in_the_product_file_alone_carry_no_hint(tmp_path: Path) -> None:
    (tmp_path / "by-street.yaml").write_text(PRODUCT.replace("kind: statistics", "kind: nope"))
    with pytest.raises(ValidationFailed) as err:
        load_products(tmp_path, {"enterprises": META})
    assert METADATA_HINT not in err.value.message
