"""The dataset store: validated imports of new versions, side by side with the served ones.

``import_dataset`` writes each version into a new DuckDB file beside the others (a file the
zone server does not hold open, so an import runs while the zone serves: see "DuckDB file
locking" in FACTS) and records it in the store's manifest (``zone.catalog._manifest``). The
running zone switches to a new active version at its next reload or ``ActivateDataset``
(``zone.serving``); a stopped zone uses it when it starts.

Atomicity: the version file is written under a temporary name and renamed when complete; the
manifest is replaced by one rename. A failed or killed import leaves the store as it was (an
abandoned temporary file is removed by the next import).
"""

from __future__ import annotations

import datetime
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

import zone.catalog._importing as _importing
import zone.catalog._manifest as _manifest
from zone.catalog._fields import DATASET_NAME, is_dataset_name
from zone.catalog.datasets import DatasetCatalog
from zone.catalog.info import DatasetInfo, table_name
from zone.catalog.metadata import DatasetMeta
from zone.catalog.quality import QualityReport
from zone.errors import FailedPrecondition, InvalidArgument, Problem, ValidationFailed
from zone.files import private_dirs, private_umask

__all__ = [
    "DATASET_NAME",
    "DatasetCatalog",
    "DatasetInfo",
    "ImportResult",
    "import_dataset",
    "list_datasets",
    "table_name",
]

ImportRefused = _importing.ImportRefused


@dataclass(frozen=True)
class ImportResult:
    """A version written to the store.

    Attributes:
        info: The new version.
        report: Its quality report (also stored in the version file).
        previous: The version that was active before (None for a new dataset).
        activated: Whether the new version is now the active one in the manifest.
    """

    info: DatasetInfo
    report: QualityReport
    previous: str | None
    activated: bool


def utc_now() -> str:
    """The current UTC time, ISO-8601 to the second."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def import_dataset(
    store: Path,
    source: Path,
    name: str,
    meta: DatasetMeta,
    *,
    meta_source: str = "metadata",
    replace_existing: bool = False,
    activate: bool = True,
    allow_empty: bool = False,
    memory_limit: str = _importing.DEFAULT_MEMORY_LIMIT,
    compact_text: bool = False,
) -> ImportResult:
    """Validate a CSV or Parquet file against ``meta`` and add it as a new version of ``name``.

    Args:
        store: The dataset store directory (created if missing: 0700, its files 0600).
        source: ``.csv`` (RFC 4180, header row) or ``.parquet``.
        name: The dataset name (``DATASET_NAME``).
        meta: Its validated metadata, covering exactly the file's columns.
        meta_source: How problems name the metadata (e.g. its file path).
        replace_existing: Required when ``name`` already has a version.
        activate: Make the new version the active one (else it is kept, inactive).
        allow_empty: Accept a file with a header and no data rows.
        memory_limit: DuckDB's memory limit for the import (it spills beyond it).
        compact_text: Let DuckDB compress unique text with FSST: a smaller version file, a
            slower import (by default such columns are stored uncompressed).

    Raises:
        InvalidArgument: a bad dataset name or file extension.
        ValidationFailed: every problem with the file (columns, unparsable rows, no rows).
        ImportRefused: values violate the metadata under ``refuse`` (carries the report).
        FailedPrecondition: the name exists without ``replace_existing``, the same version is
            already kept, the file changed during the import, or the store is unusable.
    """
    private_dirs(store)
    with private_umask():  # the store's files and DuckDB's own (.wal, spill) are 0600
        return _import(store, source, name, meta, meta_source, replace_existing, activate,
                       allow_empty, memory_limit, compact_text)  # fmt: skip


def _import(
    store: Path,
    source: Path,
    name: str,
    meta: DatasetMeta,
    meta_source: str,
    replace_existing: bool,
    activate: bool,
    allow_empty: bool,
    memory_limit: str,
    compact_text: bool,
) -> ImportResult:
    if not is_dataset_name(name):
        raise InvalidArgument(f"dataset names must match {DATASET_NAME.pattern}")
    fmt = _importing.source_format(source)
    if not source.is_file():
        raise ValidationFailed([Problem(str(source), None, "no such file")])
    stamp = _importing.file_stamp(source)
    job = _importing.VersionJob(source, fmt, name, meta, meta_source, utc_now(), allow_empty,
                                memory_limit, compact_text)  # fmt: skip
    with _manifest.locked(store, ".import.lock"):
        _remove_abandoned(store)
        _check_new(_manifest.read_manifest(store), name, None, replace_existing)
        record, final = _write(store, job, stamp, replace_existing)
        version = record.version
        entry = _manifest.VersionEntry(version, str(final.relative_to(store)), job.imported_at,
                                       record.row_count, record.report.digest)  # fmt: skip

        def add(manifest: _manifest.Manifest) -> _manifest.Manifest:
            _check_new(manifest, name, version, replace_existing)
            current = manifest.datasets.get(name, _manifest.DatasetEntry(()))
            kept = tuple(v for v in current.versions if v.version != version)  # a dropped one
            versions = (*kept, entry)
            return manifest.with_dataset(
                name, _manifest.DatasetEntry(versions, version if activate else current.active)
            )

        try:
            before, _ = _manifest.update_manifest(store, add)
        except BaseException:
            _unlink(final)
            raise
    previous = before.datasets[name].active if name in before.datasets else None
    info = DatasetInfo(name, version, record.row_count, meta, job.imported_at, fmt,
                       record.report, final)  # fmt: skip
    return ImportResult(info, record.report, previous, activate)


def _check_new(manifest: _manifest.Manifest, name: str, version: str | None, replace: bool) -> None:
    """Refuse a version already kept, or a new version of ``name`` without ``replace``."""
    entry = manifest.datasets.get(name)
    if entry is None:
        return
    same = entry.find(version) if version is not None else None
    if same is not None and not same.dropped:
        state = "active" if entry.active == version else "kept"
        raise FailedPrecondition(
            f"this file and metadata are already version {version} of {name!r} ({state})",
            reason="version_exists",
        )
    if not replace and any(not v.retired for v in entry.versions):
        raise FailedPrecondition(
            f"dataset {name!r} exists (active version {entry.active or 'none'}); pass "
            "--replace to import a new version of it, or choose another name",
            reason="dataset_exists",
        )


def _write(
    store: Path, job: _importing.VersionJob, stamp: tuple[int, int, int], replace: bool
) -> tuple[_importing.VersionRecord, Path]:
    """Write the version file; the source's digest is computed meanwhile, in a thread.

    The file is written under a temporary name, and renamed to its version (known once the
    digest is) after the checks that need the version.
    """
    folder = store / job.name
    folder.mkdir(parents=True, exist_ok=True)
    temp_dir = store / ".tmp"
    temp_dir.mkdir(exist_ok=True)
    partial = folder / f".{secrets.token_hex(8)}.partial"
    cancel = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="zone-import-scan") as pool:
        scanning = pool.submit(_importing.scan_source, job.source, job.meta, cancel)
        try:
            record = _importing.write_version(job, partial, temp_dir, scanning.result)
            if _importing.file_stamp(job.source) != stamp:
                raise FailedPrecondition("the data file changed while it was being imported")
            _check_new(_manifest.read_manifest(store), job.name, record.version, replace)
            final = folder / f"{record.version.removeprefix('sha256:')}.duckdb"
            os.replace(partial, final)
            _importing.fsync_dir(folder)
        except duckdb.Error:
            raise FailedPrecondition("the import failed inside DuckDB") from None
        finally:
            cancel.set()
            _unlink(partial)
    return record, final


def _unlink(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _remove_abandoned(store: Path) -> None:
    """Remove files of imports that were killed (call with the import lock held).

    A partial version file, or a complete one the manifest never listed (killed between the
    file's rename and the manifest's).
    """
    for partial in store.glob("*/.*.partial*"):
        partial.unlink(missing_ok=True)
    manifest = _manifest.read_manifest(store)
    listed = {
        store / v.file for e in manifest.datasets.values() for v in e.versions if not v.dropped
    }
    for orphan in store.glob("*/*.duckdb"):
        if orphan not in listed:
            _unlink(orphan)
    for spill in store.glob(".tmp/*"):
        if spill.is_file():
            spill.unlink(missing_ok=True)


def list_datasets(store: Path) -> list[DatasetInfo]:
    """The active version of each dataset, sorted by name; empty without a store (CLI)."""
    if not (store / _manifest.MANIFEST).is_file():
        _manifest.check_store(store)
        return []
    with DatasetCatalog.open(store) as catalog:
        return list(catalog.datasets().values())
