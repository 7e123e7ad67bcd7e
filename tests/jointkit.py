"""Helpers for joint-modeling tests: a zone offering ``enterprise-joint``, cohorts to upload."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from zonekit import REPO, make_zone_dir

PRODUCT = "enterprise-joint"
JOINT_EXAMPLES = REPO / "examples" / "joint"
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
OPERATORS = ("opa", "opb")


def schema(**changes: Any) -> dict[str, Any]:
    """The example cohort schema (examples/joint/cohort.yaml), with ``changes`` applied."""
    data: dict[str, Any] = yaml.safe_load((JOINT_EXAMPLES / "cohort.yaml").read_text())
    data.update(changes)
    return data


def _policy(principal: str, token: str, epsilon: float) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return (
        "principals:\n"
        f"  - id: {principal}\n    role: operator\n    organisation: test bank\n"
        f"    token_sha256: {digest}\n"
        "grants:\n"
        f"  - principal: {principal}\n    products: [{PRODUCT}, enterprise-stats, capital-match]\n"
        f"    budget: {{enterprises: {{epsilon: {epsilon}, delta: 1.0e-4}}}}\n"
        "    per_job_epsilon: 2.0\n    purpose: joint modeling tests\n"
    )


def make_joint_zone(
    root: Path, rows: int = 2000, warm_workers: int = 0, epsilon: float = 20.0,
    product_changes: str = "", extra_config: str = "", state_db: str = "state.sqlite",
) -> tuple[Path, dict[str, str]]:  # fmt: skip
    """A zone folder offering ``enterprise-joint`` to operators opa and opb; (config, tokens)."""
    config = make_zone_dir(root, rows=rows, warm_workers=warm_workers, extra_config=extra_config,
                           state_db=state_db)  # fmt: skip
    product = (JOINT_EXAMPLES / "enterprise-joint.yaml").read_text() + product_changes
    (config.parent / "models" / "enterprise-joint.yaml").write_text(product)
    tokens = {}
    for principal in OPERATORS:
        tokens[principal] = secrets.token_urlsafe(24)
        text = _policy(principal, tokens[principal], epsilon)
        (config.parent / "policies" / f"{principal}.yaml").write_text(text)
    return config, tokens


def registry(config: Path) -> list[dict[str, str]]:
    """The rows of the zone's enterprise CSV (what the dataset holds)."""
    with (config.parent / "enterprises.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def fake_keys(rng: np.random.Generator, n: int) -> list[str]:
    """Keys that look like credit codes but are (almost surely) not in the registry."""
    return ["".join(rng.choice(list(ALPHABET), 18)) for _ in range(n)]


def cohort_rows(
    config: Path, n: int, *, matched: float = 0.9, seed: int = 1
) -> list[dict[str, Any]]:
    """A bank's cohort: mostly registry firms (its label follows their default flag), the rest
    firms unknown to the registry; its own features loan_amount, days_overdue, channel."""
    rng = np.random.default_rng(seed)
    firms = registry(config)
    chosen = rng.choice(len(firms), size=min(int(n * matched), len(firms)), replace=False)
    rows = []
    for index in chosen:
        firm = firms[int(index)]
        rows.append({"uscc": firm["uscc"], "defaulted": int(firm["default_flag"])})
    for key in fake_keys(rng, n - len(rows)):
        rows.append({"uscc": key, "defaulted": int(rng.random() < 0.2)})
    for row in rows:
        bad = row["defaulted"] == 1
        row["defaulted"] = "yes" if bad else "no"
        row["loan_amount"] = round(float(rng.uniform(0, 5000)), 2)
        row["days_overdue"] = int(rng.integers(30, 200) if bad else rng.integers(0, 60))
        row["channel"] = str(rng.choice(["branch", "online", "partner"]))
    order = rng.permutation(len(rows))
    return [rows[int(i)] for i in order]


COLUMNS = ("uscc", "defaulted", "loan_amount", "days_overdue", "channel")


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str] = COLUMNS) -> bytes:
    """CSV bytes with a header row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue().encode()


def files_under(root: Path) -> list[Path]:
    """Every regular file under ``root``."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def copy_models(config: Path, *names: str) -> None:
    """Copy extra model files from the examples into the zone's models directory."""
    for name in names:
        shutil.copy(JOINT_EXAMPLES / name, config.parent / "models" / name)
