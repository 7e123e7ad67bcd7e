"""Tests for the synthetic enterprise registry and its identifier helpers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
sys.path.insert(0, str(EXAMPLES))

import generate_enterprises as ge  # noqa: E402
import uscc  # noqa: E402

ROWS = 10_000
NUMERIC = [
    "founded_year",
    "registered_capital",
    "employees",
    "insured_staff",
    "tax_paid",
    "utility_arrears",
    "penalties",
]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return ge.generate(ROWS)


@pytest.fixture(scope="module")
def meta() -> dict[str, Any]:
    with (EXAMPLES / "enterprises.meta.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# --- identifiers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # the worked example of GB 32100-2015
        "91110000600037341L",  # publicly listed company codes
        "91440300708461136T",
    ],
)
def test_known_uscc_codes_validate(code: str) -> None:
    assert uscc.is_valid(code)
    assert uscc.check_char(code[:17]) == code[17]
    assert uscc.org_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize(
    "code",
    ["", "91350100M000100Y4", "91350100M000100Y44", "91350100M000100Y4I", "9135010OM000100Y43"],
)
def test_bad_uscc_codes_rejected(code: str) -> None:
    assert not uscc.is_valid(code)


def test_check_char_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        uscc.check_char("9135010")
    with pytest.raises(ValueError):
        uscc.check_char("91350100M000100YI")


def test_single_char_mutation_invalidates_generated_code() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        code = uscc.make_code(rng, "339902")
        assert uscc.is_valid(code)
        assert code[:2] in {"91", "92", "93"} and code[2:8] == "339902"
        assert uscc.org_check_char(code[8:16]) == code[16]
        for pos in range(18):
            for repl in uscc.ALPHABET:
                if repl != code[pos]:
                    mutated = code[:pos] + repl + code[pos + 1 :]
                    assert not uscc.is_valid(mutated), (code, mutated)


def test_make_code_rejects_bad_district() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        uscc.make_code(rng, "33990")
    with pytest.raises(ValueError):
        uscc.make_code(rng, "3399A2")


def test_resident_id_check_standard_example() -> None:
    assert uscc.resident_id_check("11010519491231002") == "X"
    assert uscc.resident_id_is_valid("11010519491231002X")
    assert not uscc.resident_id_is_valid("110105194912310021")


def test_vectorised_ids_match_scalar_reference() -> None:
    rng = np.random.default_rng(3)
    codes = uscc.make_codes(rng, ["339902", "110105", "339917"] * 50)
    assert all(c[17] == uscc.check_char(c[:17]) for c in codes)
    dates = np.array(["1950-01-01", "1979-02-28", "2000-12-31"] * 20, dtype="datetime64[D]")
    ids = uscc.make_resident_ids(rng, ["339902"] * len(dates), dates)
    assert all(i[17] == uscc.resident_id_check(i[:17]) for i in ids)
    assert {i[6:14] for i in ids} == {"19500101", "19790228", "20001231"}


# --- the dataset -----------------------------------------------------------------------


def test_columns_and_dtypes(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(ge.COLUMNS)
    assert len(frame) == ROWS
    assert not frame.isna().any().any()
    for col in NUMERIC[:1] + ["employees", "insured_staff", "penalties", "default_flag"]:
        assert frame[col].dtype == np.int64, col
    for col in ["registered_capital", "tax_paid", "utility_arrears"]:
        assert frame[col].dtype == np.float64, col
        assert np.allclose(frame[col], frame[col].round(2)), col


def test_deterministic(frame: pd.DataFrame, tmp_path: Path) -> None:
    again = ge.generate(ROWS)
    pd.testing.assert_frame_equal(frame, again)
    other = ge.generate(ROWS, seed=1)
    assert not frame.equals(other)
    assert (frame["uscc"] != other["uscc"]).mean() > 0.99

    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert ge.main(["--rows", "2000", "--seed", "5", "--out", str(a)]) == 0
    assert ge.main(["--rows", "2000", "--seed", "5", "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(ge.COLUMNS)
    assert len(lines) == 2001
    back = pd.read_csv(a, dtype={"uscc": str, "legal_rep_id": str})
    assert back["uscc"].tolist() == ge.generate(2000, seed=5)["uscc"].tolist()


def test_identifiers_valid_and_unique(frame: pd.DataFrame) -> None:
    assert frame["uscc"].is_unique
    assert all(uscc.is_valid(c) for c in frame["uscc"])
    assert all(uscc.org_check_char(c[8:16]) == c[16] for c in frame["uscc"])
    codes = {name: code for name, (code, _) in ge.DISTRICTS.items()}
    assert (frame["uscc"].str[2:8] == frame["district"].map(codes)).all()
    assert (frame["uscc"].str[:2] == "91").mean() > 0.9

    ids = frame["legal_rep_id"]
    assert (ids.str.len() == 18).all()
    assert all(uscc.resident_id_is_valid(i) for i in ids)
    births = pd.to_datetime(ids.str[6:14], format="%Y%m%d")
    assert births.min() >= pd.Timestamp("1950-01-01")
    assert births.max() <= pd.Timestamp("2000-12-31")


def test_values_within_metadata(frame: pd.DataFrame, meta: dict[str, Any]) -> None:
    assert meta["entity_key"] == "uscc"
    assert meta["description"] and meta["provider"]
    columns = meta["columns"]
    assert list(columns) == list(ge.COLUMNS)
    levels = {
        "uscc": "L3",
        "district": "L1",
        "industry": "L1",
        "founded_year": "L1",
        "registered_capital": "L2",
        "employees": "L2",
        "insured_staff": "L3",
        "tax_paid": "L3",
        "utility_arrears": "L3",
        "penalties": "L3",
        "legal_rep_id": "L4",
        "default_flag": "L3",
    }
    for name, spec in columns.items():
        assert spec["level"] == levels[name], name
        assert spec["type"] in {"integer", "float", "string", "boolean", "date"}, name
        assert spec["description"], name
        values = frame[name]
        if spec["type"] in {"integer", "float"}:
            assert ("bounds" in spec) != ("domain" in spec), name
        if "bounds" in spec:
            low, high = spec["bounds"]
            assert values.min() >= low and values.max() <= high, name
        if "domain" in spec:
            assert set(values.unique()) <= set(spec["domain"]), name
    assert columns["district"]["domain"] == list(ge.DISTRICTS)
    assert columns["industry"]["domain"] == list(ge.INDUSTRIES)
    # every category actually occurs with 10k rows except the rarest sections
    assert set(frame["district"]) == set(ge.DISTRICTS)


def test_realistic_shape(frame: pd.DataFrame) -> None:
    industry = frame["industry"].value_counts(normalize=True)
    assert industry.index[0] == "F"
    assert industry["C"] > 0.08 and industry.get("B", 0) < 0.01
    district = frame["district"].value_counts(normalize=True)
    assert district.max() > 3 * district.min()
    assert frame["founded_year"].median() >= 2010
    assert (frame["insured_staff"] <= frame["employees"]).mean() > 0.97
    assert (frame["utility_arrears"] == 0).mean() > 0.85
    assert (frame["penalties"] == 0).mean() > 0.8
    assert 0 < (frame["tax_paid"] == 0).mean() < 0.4
    # size measures are positively correlated
    logs = np.log1p(frame[["registered_capital", "employees", "tax_paid"]])
    corr = logs.corr().to_numpy()
    assert (corr[np.triu_indices(3, 1)] > 0.3).all()


def test_default_rate(frame: pd.DataFrame) -> None:
    assert set(frame["default_flag"].unique()) <= {0, 1}
    assert 0.08 <= frame["default_flag"].mean() <= 0.12


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    ranks = pd.Series(score).rank().to_numpy()
    pos = int(y.sum())
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos)))


def _fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 400, lr: float = 0.5) -> np.ndarray:
    design = np.column_stack([np.ones(len(x)), x])
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        w -= lr * design.T @ (p - y) / len(y)
    return w


@pytest.mark.parametrize("transform", ["raw", "log1p"])
def test_label_is_learnable(frame: pd.DataFrame, transform: str) -> None:
    x = frame[NUMERIC].to_numpy(dtype=float)
    if transform == "log1p":
        x = np.log1p(x)
    y = frame["default_flag"].to_numpy(dtype=float)
    train = slice(0, 7_000)
    test = slice(7_000, None)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    x = (x - mean) / std
    w = _fit_logistic(x[train], y[train])
    score = np.column_stack([np.ones(len(x)), x])[test] @ w
    accuracy = float(((score > 0) == (y[test] == 1)).mean())
    majority = float(max(y[test].mean(), 1 - y[test].mean()))
    auc = _auc(y[test], score)
    assert auc > 0.72, auc
    assert accuracy > majority, (accuracy, majority)
    if transform == "log1p":
        assert auc > 0.78, auc
        assert accuracy > majority + 0.005, (accuracy, majority)
