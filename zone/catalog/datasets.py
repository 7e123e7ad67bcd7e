"""The serving side's read-only view of a set of dataset versions (one per dataset).

Each version is its own DuckDB file (``zone.catalog._manifest`` describes the store). A
:class:`DatasetCatalog` attaches the chosen version files read-only to a private in-memory
DuckDB instance, exposes each as ``ds_<name>`` (a view), then disables external access and
locks the configuration: SQL run through its cursors can neither write a version file nor
read, attach or write any other file (scratch tables in the private in-memory database are
possible and vanish with it).

Several catalogs may attach the same version file at once (the running set and the one being
switched to); other processes (training workers) may open it read-only at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType

import duckdb

from zone.catalog._importing import read_record
from zone.catalog._manifest import read_manifest
from zone.catalog.info import DatasetInfo, table_name
from zone.errors import FailedPrecondition, NotFound


def _damaged(name: str) -> FailedPrecondition:
    return FailedPrecondition(f"the dataset store is damaged at {name!r}; re-import it")


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _attach(con: duckdb.DuckDBPyConnection, index: int, name: str, path: Path) -> DatasetInfo:
    alias = f'"v{index}"'
    if not path.is_file():
        raise _damaged(name)
    try:
        con.execute(f"ATTACH {_sql_text(str(path))} AS {alias} (READ_ONLY)")
        record = read_record(con, alias)
        columns = [
            str(row[0])
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? "
                "AND table_schema = 'main' AND table_name = ?",
                [f"v{index}", f"ds_{name}"],
            ).fetchall()
        ]
    except (duckdb.Error, ValueError, KeyError):
        raise _damaged(name) from None
    if record.name != name or sorted(columns) != sorted(record.meta.columns):
        raise _damaged(name)
    con.execute(f"CREATE VIEW {table_name(name)} AS SELECT * FROM {alias}.main.{table_name(name)}")
    return DatasetInfo(record.name, record.version, record.row_count, record.meta,
                       record.imported_at, record.source_format, record.report,
                       path)  # fmt: skip


class DatasetCatalog:
    """Read-only access to one version of each of a set of datasets."""

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, datasets: Mapping[str, DatasetInfo]
    ) -> None:
        self._connection = connection
        self._datasets = MappingProxyType(dict(sorted(datasets.items())))
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def attach(
        cls,
        files: Mapping[str, tuple[str, Path]],
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> DatasetCatalog:
        """Attach ``files`` (name -> (expected version, version file)).

        ``memory_limit`` (DuckDB syntax, e.g. ``192MB``) and ``threads`` are DuckDB settings
        (``zone.config.DuckDbConfig``); None leaves DuckDB's default.

        Raises:
            FailedPrecondition: a file is missing, damaged or holds another version.
        """
        settings: dict[str, str | bool | int | float | list[str]] = {}
        if memory_limit is not None:
            settings["memory_limit"] = memory_limit
        if threads is not None:
            settings["threads"] = threads
        connection = duckdb.connect(":memory:", config=settings)
        try:
            datasets = {}
            for index, (name, (version, path)) in enumerate(sorted(files.items())):
                info = _attach(connection, index, name, path)
                if info.version != version:
                    raise _damaged(name)
                datasets[name] = info
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
        except BaseException:
            connection.close()
            raise
        return cls(connection, datasets)

    @classmethod
    def open(
        cls, store: Path, *, memory_limit: str | None = None, threads: int | None = None
    ) -> DatasetCatalog:
        """The active version of every dataset of the store ``store`` (settings: ``attach``).

        Raises:
            FailedPrecondition: no store, or a damaged one.
        """
        if not (store / "catalog.json").is_file():
            raise FailedPrecondition(
                "no dataset store; import a dataset first", reason="no_dataset_database"
            )
        active = read_manifest(store).active()
        files = {n: (e.version, store / e.file) for n, e in active.items()}
        return cls.attach(files, memory_limit=memory_limit, threads=threads)

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
