"""A reload that meets a hostile policy file refuses it quickly and keeps the running set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zone.errors import ValidationFailed
from zone.policy import ProductRef
from zone.policy.holder import PolicyHolder

PRODUCTS = {"enterprise-stats": ProductRef("enterprises", "statistics")}

VALID = """\
principals:
  - id: bank-a
    role: operator
    organisation: Bank A
    token_sha256: {digest}
"""


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "hostile",
    [
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 7)),
        "principals: " + "[" * 5000 + "]" * 5000 + "\n",
    ],
    ids=["alias-bomb-10e7", "nesting-5000"],
)
def test_reload_refuses_a_hostile_file_and_keeps_the_running_set(
    policies_dir: Path, write: Callable[[str, str], Path], hostile: str
) -> None:
    write("bank.yaml", VALID.format(digest="a" * 64))
    reports: list[dict[str, Any]] = []
    holder = PolicyHolder(policies_dir, PRODUCTS, {"enterprises"}, reports.append)
    running = holder.current
    (policies_dir / "zz_hostile.yaml").write_text(hostile)
    with pytest.raises(ValidationFailed) as err:
        holder.reload()
    (problem,) = err.value.problems
    assert str(problem).startswith("policies/zz_hostile.yaml:")
    assert "aliases expanded" in problem.message or "nested deeper" in problem.message
    assert holder.current is running
    assert reports[-1]["outcome"] == "rejected"
