"""The DuckDB dataset store: the administrator's import and the serving side's read-only catalog.

Each dataset lives in table ``"ds_<name>"`` of one DuckDB file; the catalog table
``_zone_datasets`` records its version, row count and metadata.

Atomicity: an import runs in one DuckDB transaction. DuckDB's DDL is transactional (CREATE,
DROP and ALTER ... RENAME all roll back, verified by the tests), so the file is read into a
staging table, validated, swapped in place of the old table and recorded in the catalog before a
single COMMIT. Any failure rolls back and leaves the database exactly as it was; a database file
that the failed import itself created is removed again.

Locking: DuckDB lets one process write a file, or several read it. While the zone server holds
the file open (read-only), an import cannot open it and fails with FailedPrecondition.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType

import duckdb

import zone.catalog._importing as _importing
from zone.catalog._fields import DATASET_NAME, is_dataset_name
from zone.catalog.metadata import DatasetMeta
from zone.errors import FailedPrecondition, InvalidArgument, NotFound, Problem, ValidationFailed
from zone.files import private_dirs, private_umask

__all__ = [
    "DATASET_NAME",
    "DatasetCatalog",
    "DatasetInfo",
    "import_dataset",
    "list_datasets",
    "table_name",
]

_IN_USE_BY_SERVER = (
    "dataset database is in use (is the zone server running?); stop it, or import into a new "
    "database file and point the server at it"
)
_IN_USE_BY_IMPORT = "dataset database is being written by an import; retry when it has finished"


@dataclass(frozen=True)
class DatasetInfo:
    """One imported dataset as recorded in the catalog table."""

    name: str
    version: str  # "sha256:<64 hex>"
    row_count: int
    meta: DatasetMeta
    imported_at: str  # ISO-8601 UTC
    source_format: str  # "csv" | "parquet"


def table_name(name: str) -> str:
    """The quoted table identifier of dataset ``name`` (validated, so safe to put in SQL)."""
    if not is_dataset_name(name):
        raise InvalidArgument("invalid dataset name")
    return f'"ds_{name}"'


def _connect(
    db_path: Path, *, read_only: bool, settings: Mapping[str, str | int] | None = None
) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int | float | list[str]] = (
        {"enable_external_access": False} if read_only else {}
    )
    config.update(settings or {})
    try:
        return duckdb.connect(str(db_path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise FailedPrecondition("cannot open the dataset database") from None
        message = _IN_USE_BY_IMPORT if read_only else _IN_USE_BY_SERVER
        raise FailedPrecondition(message, reason="dataset_database_in_use") from None
    except duckdb.Error:
        raise FailedPrecondition("cannot open the dataset database") from None


def import_dataset(
    db_path: Path, source: Path, name: str, meta: DatasetMeta, *, meta_source: str = "metadata"
) -> DatasetInfo:
    """Import (or replace) dataset ``name`` from a CSV or Parquet file, atomically.

    Args:
        db_path: the DuckDB file (created if missing: 0600, with its WAL, in 0700 folders).
        source: the data file: ``.csv`` with a header row, or ``.parquet``.
        name: the dataset name (``DATASET_NAME``).
        meta: its validated metadata, covering exactly the file's columns.
        meta_source: how problems name the metadata (e.g. its file path).

    Raises:
        InvalidArgument: a bad dataset name or file extension.
        ValidationFailed: every problem with the file (columns, unparsable rows, entity key).
        FailedPrecondition: the database is locked (a running server holds it) or unusable.
    """
    private_dirs(db_path.parent)
    with private_umask():  # DuckDB creates the database and its .wal itself
        return _import(db_path, source, name, meta, meta_source)


def _import(
    db_path: Path, source: Path, name: str, meta: DatasetMeta, meta_source: str
) -> DatasetInfo:
    if not is_dataset_name(name):
        raise InvalidArgument(f"dataset names must match {DATASET_NAME.pattern}")
    fmt = _importing.source_format(source)
    if not source.is_file():
        raise ValidationFailed([Problem(str(source), None, "no such file")])
    version = _importing.content_version(source, meta)
    created = not db_path.exists()
    con = _connect(db_path, read_only=False)
    committed = False
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(_importing.CREATE_CATALOG)
        row_count = _importing.stage(con, source, fmt, meta, meta_source)
        if _importing.content_version(source, meta) != version:
            raise FailedPrecondition("the data file changed while it was being imported")
        info = DatasetInfo(name, version, row_count, meta, _utc_now(), fmt)
        record = (name, version, row_count, meta.to_json(), info.imported_at, fmt)
        _importing.swap_in(con, table_name(name), record)
        con.execute("COMMIT")
        committed = True
    except duckdb.Error:
        raise FailedPrecondition("the import failed inside the dataset database") from None
    finally:
        if not committed:
            _importing.rollback(con)
        con.close()
        if created and not committed:
            _importing.remove_database(db_path)
    return info


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _damaged(name: str) -> FailedPrecondition:
    return FailedPrecondition(f"the dataset catalog is damaged at {name!r}; re-import it")


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(row[0]) for row in rows]


def _read_catalog(con: duckdb.DuckDBPyConnection) -> dict[str, DatasetInfo]:
    if not _table_columns(con, _importing.CATALOG_TABLE):
        raise FailedPrecondition("the dataset database has no catalog; import a dataset first")
    rows = con.execute(
        f"SELECT {_importing.CATALOG_COLUMNS} FROM {_importing.CATALOG_TABLE} ORDER BY name"
    ).fetchall()
    datasets = {}
    for name, version, row_count, meta_json, imported_at, fmt in rows:
        if not is_dataset_name(name):
            raise _damaged("?")
        try:
            meta = DatasetMeta.from_json(meta_json)
        except ValueError:
            raise _damaged(name) from None
        if sorted(_table_columns(con, f"ds_{name}")) != sorted(meta.columns):
            raise _damaged(name)
        datasets[name] = DatasetInfo(name, version, int(row_count), meta, imported_at, fmt)
    return datasets


class DatasetCatalog:
    """The serving side's read-only view of the dataset database.

    The file is opened read-only with external access disabled, so SQL run through its cursors
    can neither write the database nor read any other file.
    """

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, datasets: Mapping[str, DatasetInfo]
    ) -> None:
        self._connection = connection
        self._datasets = MappingProxyType(dict(sorted(datasets.items())))
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls, db_path: Path, *, memory_limit: str | None = None, threads: int | None = None
    ) -> DatasetCatalog:
        """Open ``db_path`` read-only and load the catalog table into memory.

        ``memory_limit`` (DuckDB syntax, e.g. ``192MB``) and ``threads`` are DuckDB settings
        (``zone.config.DuckDbConfig``); None leaves DuckDB's default.

        Raises:
            FailedPrecondition: no database file, no catalog in it, locked, or damaged.
        """
        if not db_path.is_file():
            raise FailedPrecondition(
                "no dataset database; import a dataset first", reason="no_dataset_database"
            )
        settings: dict[str, str | int] = {}
        if memory_limit is not None:
            settings["memory_limit"] = memory_limit
        if threads is not None:
            settings["threads"] = threads
        connection = _connect(db_path, read_only=True, settings=settings)
        try:
            datasets = _read_catalog(connection)
        except BaseException:
            connection.close()
            raise
        return cls(connection, datasets)

    def datasets(self) -> Mapping[str, DatasetInfo]:
        """Every dataset, sorted by name (read-only mapping)."""
        return self._datasets

    def get(self, name: str) -> DatasetInfo:
        """The dataset called ``name``.

        Raises:
            NotFound: no such dataset.
        """
        info = self._datasets.get(name)
        if info is None:
            raise NotFound("no such dataset", reason="dataset_not_found")
        return info

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor for the calling thread (connections are not thread-safe; cursors are)."""
        with self._lock:
            if self._closed:
                raise FailedPrecondition("the dataset catalog is closed")
            return self._connection.cursor()

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._connection.close()

    def __enter__(self) -> DatasetCatalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def list_datasets(db_path: Path) -> list[DatasetInfo]:
    """Datasets in ``db_path``, sorted by name; empty when the file does not exist (for the CLI)."""
    if not db_path.exists():
        return []
    with DatasetCatalog.open(db_path) as catalog:
        return list(catalog.datasets().values())
