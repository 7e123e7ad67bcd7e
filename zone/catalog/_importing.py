"""Steps of a dataset import that run inside its transaction (see ``store.import_dataset``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import duckdb

import zone.catalog._loading as _loading
from zone.catalog.metadata import DatasetMeta
from zone.errors import InvalidArgument, ValidationFailed

CATALOG_TABLE = "_zone_datasets"
CATALOG_COLUMNS = "name, version, row_count, meta_json, imported_at, source_format"
CREATE_CATALOG = f"""
CREATE TABLE IF NOT EXISTS {CATALOG_TABLE} (
    name VARCHAR PRIMARY KEY,
    version VARCHAR NOT NULL,
    row_count BIGINT NOT NULL,
    meta_json VARCHAR NOT NULL,
    imported_at VARCHAR NOT NULL,
    source_format VARCHAR NOT NULL
)"""
_UPSERT = f"""
INSERT INTO {CATALOG_TABLE} ({CATALOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET version = excluded.version, row_count = excluded.row_count,
    meta_json = excluded.meta_json, imported_at = excluded.imported_at,
    source_format = excluded.source_format"""
SOURCE_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def source_format(source: Path) -> str:
    """``csv`` or ``parquet``, from the file name's extension."""
    found = SOURCE_FORMATS.get(source.suffix.lower())
    if found is None:
        raise InvalidArgument("the data file must end in .csv or .parquet")
    return found


def content_version(source: Path, meta: DatasetMeta) -> str:
    """``sha256:`` over the source file's bytes, a NUL byte, then the canonical metadata JSON."""
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(b"\0")
    digest.update(meta.to_json().encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def stage(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    fmt: str,
    meta: DatasetMeta,
    meta_source: str,
) -> int:
    """Load and validate the source into the staging table; returns the row count."""
    label = str(source)
    if fmt == "csv":
        header, problems = _loading.read_csv_header(source, label)
        problems = problems or _loading.column_problems(header, meta, label, meta_source)
        problems = problems or _loading.load_raw_csv(con, source, label, meta, header)
    else:
        problems = _loading.load_raw_parquet(con, source, label, meta, meta_source)
    problems = problems or _loading.conversion_problems(con, meta, label)
    if problems:
        raise ValidationFailed(problems, what=f"importing {label}")
    row_count = _loading.create_staging(con, meta)
    problems = _loading.entity_key_problems(con, meta, label)
    if problems:
        raise ValidationFailed(problems, what=f"importing {label}")
    return row_count


def swap_in(con: duckdb.DuckDBPyConnection, table: str, record: Sequence[object]) -> None:
    """Replace ``table`` (quoted) by the staging table and upsert its catalog record."""
    con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(f"ALTER TABLE {_loading.STAGING_TABLE} RENAME TO {table}")
    con.execute(_UPSERT, list(record))


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if DuckDB still has one."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def remove_database(db_path: Path) -> None:
    """Delete a database file (and its WAL) that a failed import created."""
    for path in (db_path, db_path.with_name(db_path.name + ".wal")):
        path.unlink(missing_ok=True)
