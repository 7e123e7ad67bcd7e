"""The joined training table of a joint job: the whole cohort, zone features joined in.

Runs in the worker process (the only place cohort values and zone values meet). One in-memory
DuckDB connection, its spill directory the job's work directory under the cohort directory
(shredded with the cohort): it attaches the dataset database read-only, reads the cohort file,
then turns external access off before the join runs.

Every cohort row is a training row. The dataset's key is normalised as the upload normalised the
operator's keys (``zone.products.joint.keys``); dataset keys that collide after normalisation
are dropped (so a cohort row joins at most one subject: the privacy unit stays one subject per
row). A row whose key is not in the dataset, or whose zone features include a NULL, gets zone
inputs 0 and ``zone.missing`` = 1 (NULLs are flagged in SQL: DuckDB's LEAST and GREATEST
skip NULLs, so a scaled NULL would otherwise pass for the lower bound). The row count and
the sample rate therefore come from the cohort's size, which the operator knows, not from the
join. Scaling uses public bounds and
domains only: the dataset's metadata for zone features, the operator's declared schema for its
own (numeric values clipped into their bounds, categorical positions one-hot).

Nothing here is logged or raised with values: a DuckDB error becomes ``JointDataError`` with a
fixed message (and no chained cause, so the worker's traceback in the server log quotes none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from zone.catalog._joint import KeyFormat
from zone.errors import ZoneError
from zone.products.joint.keys import zone_key
from zone.products.joint.plan import JointSpec
from zone.products.training.data import feature_sql
from zone.products.training.scaling import FeatureScaling

Array = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


class JointDataError(ZoneError):
    """The joined table could not be built (the reason stays in the zone)."""

    def __init__(self) -> None:
        super().__init__("the joined training table could not be built", reason="joint_data")


@dataclass(frozen=True)
class JoinedRows:
    """Inputs in [0, 1] (zone inputs, missing indicator, operator inputs) and targets."""

    x: Array
    y: Array


def _one_hot(values: F64, feature: FeatureScaling) -> F64:
    positions = np.arange(1, len(feature.domain) + 1, dtype=np.float64)
    hot: F64 = np.equal(values[:, None], positions[None, :]).astype(np.float64)
    return hot


def _scaled(values: F64, feature: FeatureScaling, *, scaled_in_sql: bool = False) -> F64:
    """Scaled column(s) of one feature from its number (value, 0/1 or domain position).

    Zone features come out of SQL already scaled (``feature_sql``); operator features as the
    cohort file holds them (values, 0/1 or positions).
    """
    if feature.kind == "categorical":
        return _one_hot(values, feature)
    if feature.kind == "numeric" and feature.bounds is not None and not scaled_in_sql:
        low, high = feature.bounds
        values = (np.clip(values, low, high) - low) / (high - low)
    return np.clip(values, 0.0, 1.0)[:, None]


def _query(spec: JointSpec) -> tuple[str, list[Any]]:
    params: list[Any] = []
    exprs = [f"{feature_sql(f, params)} AS f{i}" for i, f in enumerate(spec.zone_scaling)]
    key_column = f'"{spec.key_column}"'
    key = zone_key(
        key_column,
        KeyFormat(case=spec.key_case),  # type: ignore[arg-type]
        integer=spec.integer_key,
    )
    table = f"zone.{spec.training.table}"
    # The window runs over an inner SELECT that defines k: in a subquery of the join, a bare
    # `k` would bind to the cohort's k (a correlated subquery: one window per cohort row).
    # NULL zone values must be flagged here: LEAST/GREATEST skip NULLs and a categorical NULL
    # is position 0, so a scaled NULL would look like a value.
    nulls = " OR ".join(f'"{f.column}" IS NULL' for f in spec.zone_scaling) or "false"
    zone = (
        f"SELECT * FROM (SELECT {key} AS k, ({nulls}) AS incomplete"
        f"{''.join(', ' + e for e in exprs)} FROM {table} WHERE {key_column} IS NOT NULL) "
        "QUALIFY count(*) OVER (PARTITION BY k) = 1"
    )
    zone_columns = "".join(f", z.f{i}" for i in range(len(exprs)))
    operator = "".join(f", c.o{i}" for i in spec.operator_columns)
    sql = (
        f"SELECT c.y, z.k IS NULL OR z.incomplete AS unmatched{zone_columns}{operator} "
        f"FROM cohort c LEFT JOIN ({zone}) z ON c.k = z.k"
    )
    return sql, params


def _fetch(spec: JointSpec) -> dict[str, F64]:
    work = Path(spec.work_dir)
    work.mkdir(mode=0o700, exist_ok=True)
    config: dict[str, str | bool | int | float | list[str]] = {
        "temp_directory": str(work),
        "threads": 1,
    }
    try:
        with duckdb.connect(":memory:", config=config) as con:
            con.execute(f"ATTACH '{_literal(spec.training.db_path)}' AS zone (READ_ONLY)")
            con.execute(
                "CREATE TEMP TABLE cohort AS SELECT * FROM read_parquet(?)", [spec.cohort_path]
            )
            con.execute("SET enable_external_access = false")
            sql, params = _query(spec)
            fetched = con.execute(sql, params).fetchnumpy()
    except duckdb.Error:
        raise JointDataError() from None
    return {name: _floats(v) for name, v in fetched.items()}


def _floats(values: Any) -> F64:
    """A fetched column as float64, NULL as NaN (masked integer columns included)."""
    masked: Any = np.ma.asarray(values).astype(np.float64)
    return np.asarray(np.ma.filled(masked, np.nan), dtype=np.float64)


def _literal(path: str) -> str:
    if "'" in path or "\0" in path:
        raise JointDataError()
    return path


def load(spec: JointSpec) -> JoinedRows:
    """The joined, scaled training table of the whole cohort (see the module docstring)."""
    columns = _fetch(spec)
    zone_parts = [
        _scaled(columns[f"f{i}"], f, scaled_in_sql=True) for i, f in enumerate(spec.zone_scaling)
    ]
    zone = np.concatenate(zone_parts, axis=1) if zone_parts else np.empty((len(columns["y"]), 0))
    missing = columns["unmatched"].astype(bool) | ~np.isfinite(zone).all(axis=1)
    zone = np.where(missing[:, None], 0.0, np.nan_to_num(zone))
    pairs = zip(spec.operator_columns, spec.operator_scaling, strict=True)
    operator = [_scaled(columns[f"o{c}"], f) for c, f in pairs]
    x = np.concatenate([zone, missing[:, None].astype(np.float64), *operator], axis=1)
    y = columns["y"]
    if spec.label.kind == "bounded" and spec.label.bounds is not None:
        low, high = spec.label.bounds
        y = (np.clip(y, low, high) - low) / (high - low)
    return JoinedRows(np.clip(x, 0.0, 1.0).astype(np.float32), y.astype(np.float32))
