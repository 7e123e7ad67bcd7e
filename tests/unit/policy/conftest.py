"""Fixtures for policy tests: real policy files in tmp_path, loaded against a fixed catalog."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from zone.errors import ValidationFailed
from zone.policy import PolicySet, ProductRef, load_policies

PRODUCTS = {
    "enterprise-stats": ProductRef("enterprises", "statistics"),
    "enterprise-default-lr": ProductRef("enterprises", "training"),
    "capital-match": ProductRef("enterprises", "verification"),
    "capital-tokens": ProductRef("enterprises", "verification", consent="issuer"),
    "people-stats": ProductRef("people", "statistics"),
}
DATASETS = frozenset({"enterprises", "people"})


@pytest.fixture
def policies_dir(tmp_path: Path) -> Path:
    path = tmp_path / "policies"
    path.mkdir()
    return path


@pytest.fixture
def write(policies_dir: Path) -> Callable[[str, str], Path]:
    """Write a dedented policy file into policies_dir."""

    def _write(name: str, text: str) -> Path:
        path = policies_dir / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(policies_dir: Path) -> Callable[[], PolicySet]:
    """Load policies_dir against the test catalog."""
    return lambda: load_policies(policies_dir, PRODUCTS, DATASETS)


@pytest.fixture
def problems(policies_dir: Path) -> Callable[[], list[str]]:
    """Load policies_dir, expect ValidationFailed, return its problems as 'file:line: msg'."""

    def _problems() -> list[str]:
        with pytest.raises(ValidationFailed) as info:
            load_policies(policies_dir, PRODUCTS, DATASETS)
        return [str(p) for p in info.value.problems]

    return _problems
