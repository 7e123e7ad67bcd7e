"""Data providers and revenue shares in dataset metadata."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from zone.catalog import DatasetMeta, load_metadata
from zone.errors import ValidationFailed

BASE = """\
description: Registered enterprises
provider: Market regulation bureau
entity_key: uscc
columns:
  uscc: {type: string, level: L3}
"""

Write = Callable[[str, str], Path]


def providers(text: str) -> str:
    return BASE + "providers:\n" + text


def test_shares_load_exactly_and_survive_the_canonical_json(write: Write) -> None:
    meta = load_metadata(write("m.yaml", providers(
        "  - {id: tax-bureau, share: 0.1}\n  - {id: market, share: 0.2}\n"
        "  - {id: utilities, share: '0.7'}\n"
    )))  # fmt: skip
    assert meta.providers is not None
    # 0.1 + 0.2 + 0.7 is not 1.0 in floats; the shares are exact decimals summing to 1.
    assert [(p.id, p.share) for p in meta.providers] == [
        ("tax-bureau", Decimal("0.1")), ("market", Decimal("0.2")), ("utilities", Decimal("0.7"))
    ]  # fmt: skip
    assert DatasetMeta.from_json(meta.to_json()) == meta


def test_absent_providers_keep_the_canonical_json(write: Write) -> None:
    meta = load_metadata(write("m.yaml", BASE))
    assert meta.providers is None and "providers" not in meta.to_json()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "  - {id: a, share: 0.5}\n  - {id: b, share: 0.4}\n",
            "sum to exactly 1 (they sum to 0.9)",
        ),
        ("  - {id: a, share: 0.5}\n  - {id: a, share: 0.5}\n", "provider ids must be unique"),
        ("  - {id: a, share: 1.5}\n", "a share must be > 0 and <= 1"),
        ("  - {id: a, share: 0}\n  - {id: b, share: 1}\n", "a share must be > 0 and <= 1"),
        ("  - {id: a, share: 0.3333333}\n", "at most 6 decimal places"),
        ("  - {id: Tax Bureau, share: 1}\n", "String should match pattern"),
        ("  []\n", "at least one provider"),
    ],
)
def test_bad_shares_are_refused_with_their_line(write: Write, text: str, message: str) -> None:
    path = write("m.yaml", providers(text))
    with pytest.raises(ValidationFailed) as caught:
        load_metadata(path)
    [problem] = caught.value.problems
    assert problem.line is not None and problem.line >= 6
    assert message in problem.message
