"""Writing one dataset version: a new DuckDB file holding the checked table and its record.

The file is written under a temporary name by ``store.import_dataset`` and only renamed into
place once complete, so a failed or killed import leaves no version behind. The source is read
once, by DuckDB itself (``read_csv`` / ``read_parquet``), straight into the table: memory stays
bounded by ``memory_limit`` whatever the row count (DuckDB spills the duplicate-key count to
``temp_directory``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

import zone.catalog._checks as _checks
import zone.catalog._first as _first
import zone.catalog._loading as _loading
import zone.catalog._report as _report
from zone.catalog.metadata import DatasetMeta
from zone.catalog.quality import QualityReport
from zone.errors import InvalidArgument, Problem, ValidationFailed

VERSION_TABLE = "_zone_version"
VERSION_COLUMNS = "name, version, row_count, meta_json, imported_at, source_format, report_json"
SOURCE_FORMATS = {".csv": "csv", ".parquet": "parquet"}
DEFAULT_MEMORY_LIMIT = "512MB"


class ImportRefused(ValidationFailed):
    """Values violated the metadata under a ``refuse`` policy; ``report`` has the counts."""

    def __init__(self, problems: list[Problem], report: QualityReport, what: str) -> None:
        super().__init__(problems, what=what)
        self.report = report


@dataclass(frozen=True)
class VersionRecord:
    """What a version file records about itself (table ``_zone_version``)."""

    name: str
    version: str
    row_count: int
    meta: DatasetMeta
    imported_at: str
    source_format: str
    report: QualityReport


def source_format(source: Path) -> str:
    """``csv`` or ``parquet``, from the file name's extension."""
    found = SOURCE_FORMATS.get(source.suffix.lower())
    if found is None:
        raise InvalidArgument("the data file must end in .csv or .parquet")
    return found


# Bytes that can only be control characters a string may not hold: C0 except tab, LF and CR,
# and DEL (UTF-8 leaves them as themselves); C1 controls are 0xC2 0x80-0x9F.
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_C1 = re.compile(rb"\xc2[\x80-\x9f]")


@dataclass(frozen=True)
class SourceScan:
    """One pass over the source file's bytes: its version, and which bytes it may hold."""

    version: str
    controls: bool
    stamp: tuple[int, int, int]  # size, mtime_ns, inode: changes if the file is rewritten
    breaks: bool = True
    """Whether a value may hold a tab, LF or CR: the file has a tab, a CR or a quote (an LF
    inside a CSV value needs a quoted field)."""


class ScanCancelled(Exception):
    """The scan of a source file was stopped because its import failed."""


def file_stamp(source: Path) -> tuple[int, int, int]:
    """Size, modification time and inode of ``source``."""
    stat = source.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def scan_source(
    source: Path, meta: DatasetMeta, cancel: threading.Event | None = None
) -> SourceScan:
    """Digest the file and look for control bytes in the same read.

    The version is ``sha256:`` over the file's bytes, a NUL byte, then the canonical metadata
    JSON. ``controls`` is False only when no byte of the file can be a control character that a
    string may not hold; for a CSV file the per-value control check is then skipped. ``breaks``
    is False only when the file has no tab, CR or quote byte; the key's tab, LF and CR check is
    then skipped too. Parquet bytes are compressed: its values are always checked.

    Raises:
        ScanCancelled: ``cancel`` was set (the import failed; nobody waits for the scan).
    """
    stamp = file_stamp(source)
    digest = hashlib.sha256()
    controls, breaks, tail = False, False, b""
    with source.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            if cancel is not None and cancel.is_set():
                raise ScanCancelled
            digest.update(chunk)
            if not controls:
                joined = tail + chunk
                controls = bool(joined.translate(None, _NOT_CONTROL)) or (
                    b"\xc2" in joined and bool(_C1.search(joined))
                )
                tail = chunk[-1:]
            if not breaks:
                breaks = b"\t" in chunk or b"\r" in chunk or b'"' in chunk
    digest.update(b"\0")
    digest.update(meta.to_json().encode("utf-8"))
    return SourceScan("sha256:" + digest.hexdigest(), controls, stamp, breaks)


@dataclass(frozen=True)
class VersionJob:
    """One version to write: where from, where to, and under which settings."""

    source: Path
    fmt: str
    name: str
    meta: DatasetMeta
    meta_source: str
    imported_at: str
    allow_empty: bool = False
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    compact_text: bool = False


def write_version(
    job: VersionJob, target: Path, temp_dir: Path, scan: Callable[[], SourceScan]
) -> VersionRecord:
    """Write the checked table and its record into the new DuckDB file ``target``.

    ``scan`` gives the source's :func:`scan_source` (its version, and which checks its bytes
    need); it may still be running in another thread, and is waited for only once its result
    is needed: after the table is written (before, when a ``null`` or ``clamp`` string column
    needs to know whether to look for control characters while writing).

    Raises:
        ValidationFailed: the columns differ from the metadata, rows do not parse, or the file
            has no data rows (without ``allow_empty``).
        ImportRefused: values violate the metadata under a ``refuse`` policy.
        duckdb.Error: DuckDB failed (the caller removes ``target``).
    """
    config: dict[str, Any] = {
        "memory_limit": job.memory_limit,
        "temp_directory": str(temp_dir),
        "preserve_insertion_order": False,
    }
    con = duckdb.connect(str(target), config=config)
    try:
        con.execute("SET enable_progress_bar = false")  # a session option, not a global one
        report = _load(con, job, scan)
        record = VersionRecord(job.name, scan().version, report.rows, job.meta, job.imported_at,
                               job.fmt, report)  # fmt: skip
        con.execute(f"CREATE TABLE {VERSION_TABLE} AS SELECT ? AS name, ? AS version, "
                    "CAST(? AS BIGINT) AS row_count, ? AS meta_json, ? AS imported_at, "
                    "? AS source_format, ? AS report_json",
                    [record.name, record.version, record.row_count, job.meta.to_json(),
                     record.imported_at, record.source_format, report.to_json()])  # fmt: skip
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _fsync(target)
    return record


def _load(
    con: duckdb.DuckDBPyConnection, job: VersionJob, scan: Callable[[], SourceScan]
) -> QualityReport:
    label = str(job.source)
    if job.fmt == "csv":
        header, problems = _loading.read_csv_header(job.source, label)
        problems = problems or _loading.column_problems(header, job.meta, label, job.meta_source)
    else:
        header, problems = _loading.parquet_columns(con, job.source, label)
        problems = problems or _loading.column_problems(header, job.meta, label, job.meta_source)
    if problems:
        raise ValidationFailed(problems, what=f"importing {label}")
    table = f'"ds_{job.name}"'
    # only a null or clamp string column's flag depends on the scan while the table is written
    early = job.fmt == "csv" and any(
        _checks.flagged(n, job.meta) and job.meta.columns[n].type == "string" for n in header
    )
    layout = _checks.Layout(
        scan().controls if early else True,
        finite_floats=_read_as_double(job, header, "float"),
        exact_integers=_read_as_double(job, header, "integer"),
    )
    if not _create(con, job, table, header, layout, typed=True):
        # a typed column held text its reader rejects, or an integer column a number that is
        # not an integer: read every column as text instead, so that the report counts those
        # values as type violations
        con.execute(f"DROP TABLE IF EXISTS {table}")
        _loading.drop_rejects(con)
        layout = dataclasses.replace(layout, finite_floats=frozenset(), exact_integers=frozenset())
        _create(con, job, table, header, layout, typed=False)
    if job.fmt == "csv":
        layout = dataclasses.replace(layout, check_controls=scan().controls,
                                     check_breaks=scan().breaks)  # fmt: skip
    report = _report.count_report(con, table, job.meta, job.name, job.fmt, layout)
    if not report.accepted:
        try:
            first = _first.first_violations(job.source, job.fmt, header, job.meta, report)
        except duckdb.Error:  # the counts alone still refuse the import
            first = {}
        raise ImportRefused(_refusals(report, label, first), report, what=f"importing {label}")
    if report.rows == 0 and not job.allow_empty:
        message = "the file has no data rows (pass --allow-empty to import an empty dataset)"
        raise ValidationFailed([Problem(label, None, message)], what=f"importing {label}")
    for helper in _checks.helper_columns(job.meta, layout):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {helper}")
    return report


def _read_as_double(job: VersionJob, header: list[str], kind: str) -> frozenset[str]:
    """Columns of type ``kind`` that DuckDB's CSV reader parses (``_loading.read_as_double``)."""
    if job.fmt != "csv":
        return frozenset()
    return frozenset(
        n
        for n in header
        if job.meta.columns[n].type == kind and _loading.read_as_double(n, job.meta)
    )


def _create(
    con: duckdb.DuckDBPyConnection,
    job: VersionJob,
    table: str,
    header: list[str],
    layout: _checks.Layout,
    *,
    typed: bool,
) -> bool:
    """Write the checked table; False when only a typed column's parse rejected rows.

    Raises:
        ValidationFailed: rows do not parse as CSV (wrong field count, quoting, encoding).
    """
    label = str(job.source)
    if job.fmt == "csv":
        source_sql, source_params = _loading.csv_source(job.source, header, job.meta, typed)
    else:
        source_sql, source_params = _loading.parquet_source(job.source)
    select, params = _checks.checked_select_sql(
        _loading.source_columns(job.meta), source_sql, job.meta, layout
    )
    try:
        if job.compact_text:
            con.execute(f"CREATE TABLE {table} AS {select}", params + source_params)
        else:
            _create_plain_text(con, table, select, params + source_params, job.meta)
    except duckdb.Error as exc:
        if typed and _checks.NOT_AN_INTEGER in str(exc):
            return False
        raise ValidationFailed([_unreadable(con, job, label)], what=f"importing {label}") from None
    if job.fmt != "csv":
        return True
    if typed and _loading.only_cast_rejects(con):
        return False
    problems = _loading.rejected_rows(con, job.source, label)
    if problems:
        raise ValidationFailed(problems, what=f"importing {label}")
    return True


def _create_plain_text(
    con: duckdb.DuckDBPyConnection, table: str, select: str, params: list[Any], meta: DatasetMeta
) -> None:
    """Write ``select`` into ``table`` with text that has no declared domain uncompressed.

    DuckDB's FSST analysis of unique text (keys, identifiers) costs about as much CPU as
    parsing it, so such columns are stored uncompressed (a larger file). Text with a declared
    domain keeps DuckDB's default compression: statistics group and filter on it, and over
    uncompressed text a GROUP BY took 3.6 times as long. The column types come from the same
    SELECT bound with LIMIT 0 (no row is read).
    """
    probe = "_zone_import_probe"
    con.execute(f"CREATE TABLE {probe} AS {select} LIMIT 0", params)
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
        "ORDER BY column_index",
        [probe],
    ).fetchall()
    con.execute(f"DROP TABLE {probe}")
    _loading.drop_rejects(con)

    def plain(name: str, data_type: str) -> bool:
        column = meta.columns.get(name)
        return data_type == "VARCHAR" and column is not None and column.domain is None

    definitions = ", ".join(
        f"{_checks.quote(name)} {data_type}"
        + (" USING COMPRESSION uncompressed" if plain(name, data_type) else "")
        for name, data_type in columns
    )
    con.execute(f"CREATE TABLE {table} ({definitions})")
    con.execute(f"INSERT INTO {table} {select}", params)


def _unreadable(con: duckdb.DuckDBPyConnection, job: VersionJob, label: str) -> Problem:
    """The reader failed outright (DuckDB's message, which may quote data, is dropped)."""
    if job.fmt == "parquet":
        return Problem(label, None, "the file cannot be read as Parquet (or holds invalid text)")
    try:
        problems = _loading.rejected_rows(con, job.source, label)
    except duckdb.Error:
        problems = []
    return problems[0] if problems else Problem(label, None, "the file cannot be read as CSV")


def _refusals(
    report: QualityReport, label: str, first: dict[str, _first.FirstViolation]
) -> list[Problem]:
    problems = []
    for name in report.refused_columns:
        column = report.column(name)
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in column.violations.items() if n)
        message = f"column {name!r}: {kinds} (on_violation: {column.on_violation})"
        where = first.get(name)
        if where is None:
            problems.append(Problem(label, None, message))
            continue
        place = "on this line" if where.line is not None else f"row {where.row:,}"
        message += f"; the first is {place} (data row {where.row:,}, {where.kind}): "
        problems.append(Problem(label, where.line, message + _first.hint(where.kind, column.type)))
    return problems


def read_record(con: duckdb.DuckDBPyConnection, catalog: str) -> VersionRecord:
    """The ``_zone_version`` row of an attached version file (``catalog`` is its alias).

    Raises:
        ValueError: the file has no valid record.
    """
    rows = con.execute(f"SELECT {VERSION_COLUMNS} FROM {catalog}.main.{VERSION_TABLE}").fetchall()
    if len(rows) != 1:
        raise ValueError("a version file holds exactly one record")
    name, version, row_count, meta_json, imported_at, fmt, report_json = rows[0]
    return VersionRecord(str(name), str(version), int(row_count), DatasetMeta.from_json(meta_json),
                         str(imported_at), str(fmt),
                         QualityReport.from_json(report_json))  # fmt: skip


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
