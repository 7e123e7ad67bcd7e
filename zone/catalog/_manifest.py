"""The dataset store's manifest: which versions each dataset has, and which one is active.

Layout of a store (the directory ``datasets_db`` names)::

    catalog.json              this manifest (replaced atomically: write, fsync, rename)
    .lock                     flock held while the manifest is read, changed and replaced
    .import.lock              flock held by an import (imports run one at a time)
    .tmp/                     DuckDB's spill directory during imports
    <name>/<hex>.duckdb       one file per version: table ds_<name> and its _zone_version record
    <name>/.<hex>.partial     a version being written (removed by the next import if abandoned)

The manifest is the only mutable file, and it changes by one rename: a process killed at any
point leaves either the old or the new manifest, each naming only complete version files. Version
files are never modified after the rename that completes them; a retired version's file is
deleted once nothing uses it (its entry stays, marked ``dropped``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from zone.errors import FailedPrecondition

MANIFEST = "catalog.json"
MANIFEST_FORMAT = "zone.datasets.v1"


@dataclass(frozen=True)
class VersionEntry:
    """One version of a dataset as the manifest lists it."""

    version: str
    file: str  # relative to the store
    imported_at: str
    rows: int
    report_digest: str
    retired_at: str = ""
    dropped: bool = False

    @property
    def retired(self) -> bool:
        """Whether the version was retired (it can no longer be activated)."""
        return bool(self.retired_at)


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset: its versions in import order and the active one (None: not served)."""

    versions: tuple[VersionEntry, ...]
    active: str | None = None

    def find(self, version: str) -> VersionEntry | None:
        """The entry of ``version``, if listed."""
        return next((v for v in self.versions if v.version == version), None)

    def active_entry(self) -> VersionEntry | None:
        """The entry of the active version."""
        return self.find(self.active) if self.active else None


@dataclass(frozen=True)
class Manifest:
    """Every dataset of the store."""

    datasets: Mapping[str, DatasetEntry] = field(default_factory=dict)

    def active(self) -> dict[str, VersionEntry]:
        """The active version of each served dataset, by name."""
        found = {}
        for name, entry in sorted(self.datasets.items()):
            active = entry.active_entry()
            if active is not None:
                found[name] = active
        return found

    def with_dataset(self, name: str, entry: DatasetEntry) -> Manifest:
        """A copy with ``name`` set to ``entry``."""
        return Manifest(MappingProxyType({**self.datasets, name: entry}))

    def to_json(self) -> str:
        """The manifest file's text."""
        doc = {
            "format": MANIFEST_FORMAT,
            "datasets": {
                name: {
                    "active": entry.active,
                    "versions": [v.__dict__ for v in entry.versions],
                }
                for name, entry in sorted(self.datasets.items())
            },
        }
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest file.

        Raises:
            ValueError: not a manifest of this format.
        """
        doc: Any = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
            raise ValueError("not a dataset store manifest")
        datasets = {
            str(name): DatasetEntry(
                versions=tuple(VersionEntry(**v) for v in entry["versions"]),
                active=entry["active"],
            )
            for name, entry in doc["datasets"].items()
        }
        return cls(MappingProxyType(datasets))


def check_store(store: Path) -> None:
    """Refuse a path that is not a dataset store directory (e.g. a pre-versions DuckDB file).

    Raises:
        FailedPrecondition: ``store`` exists and is not a directory.
    """
    if store.exists() and not store.is_dir():
        raise FailedPrecondition(
            "datasets_db is a single DuckDB file from before dataset versions; move it aside "
            "and import the datasets again (the store is now a directory of versions)",
            reason="legacy_dataset_database",
        )


def read_manifest(store: Path) -> Manifest:
    """The manifest in force (empty when the store has none yet).

    Raises:
        FailedPrecondition: the manifest cannot be read.
    """
    check_store(store)
    try:
        text = (store / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return Manifest()
    try:
        return Manifest.from_json(text)
    except (ValueError, KeyError, TypeError):
        raise FailedPrecondition("the dataset store's manifest is damaged") from None


@contextlib.contextmanager
def locked(store: Path, name: str = ".lock") -> Iterator[None]:
    """Hold an exclusive flock on ``store/name`` (created if needed)."""
    check_store(store)
    store.mkdir(parents=True, exist_ok=True)
    fd = os.open(store / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_manifest(store: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically and durably (call with :func:`locked` held)."""
    target = store / MANIFEST
    temporary = store / f".{MANIFEST}.{os.getpid()}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def update_manifest(
    store: Path, change: Callable[[Manifest], Manifest]
) -> tuple[Manifest, Manifest]:
    """Read, change and replace the manifest under its lock; returns (before, after).

    ``change`` may raise to abandon the update (nothing is written).
    """
    with locked(store):
        before = read_manifest(store)
        after = change(before)
        if after.to_json() != before.to_json():
            write_manifest(store, after)
    return before, after


def retire_entry(entry: VersionEntry, when: str) -> VersionEntry:
    """``entry`` marked retired at ``when``."""
    return replace(entry, retired_at=entry.retired_at or when)
