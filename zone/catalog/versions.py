"""Versions of a dataset: choose the active one, retire old ones, drop their files.

- ``set_active``: record which version a dataset serves (the running zone switches through
  ``zone.serving``; a stopped one uses it at start).
- ``retire_version``: a retired version can no longer be activated; its file is dropped by
  :func:`sweep` once no queued or running training job reads it and no running zone serves it.
  (A kept model stops scoring as soon as another version than its training version is served,
  retired or not, until it is approved for the served version: ``zone.models.lineage``.)
- ``served/<pid>.json``: each running zone process (several replicas may share a store)
  publishes the versions it serves, so that an administrator's ``retire`` refuses, and
  ``sweep`` keeps, a version any live zone process still serves.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path

from zone.catalog._importing import fsync_dir
from zone.catalog._manifest import (
    DatasetEntry,
    Manifest,
    VersionEntry,
    read_manifest,
    retire_entry,
    update_manifest,
)
from zone.errors import FailedPrecondition, NotFound

SERVED = "served"
MIN_PREFIX = 8


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dataset_entry(manifest: Manifest, name: str) -> DatasetEntry:
    """The manifest entry of dataset ``name``.

    Raises:
        NotFound: no such dataset.
    """
    entry = manifest.datasets.get(name)
    if entry is None:
        raise NotFound(f"no dataset {name!r} in the store", reason="dataset_not_found")
    return entry


def resolve_version(manifest: Manifest, name: str, version: str) -> VersionEntry:
    """The kept version of ``name`` that ``version`` names (in full, or a unique hex prefix).

    Raises:
        NotFound: no such dataset or version, or an ambiguous prefix.
        FailedPrecondition: the version is retired.
    """
    entry = dataset_entry(manifest, name)
    digits = version.removeprefix("sha256:").lower()
    matches = [v for v in entry.versions if v.version[7:].startswith(digits)]
    if len(digits) < MIN_PREFIX or len(matches) != 1:
        raise NotFound(
            f"dataset {name!r} has no version {version!r} (give {MIN_PREFIX}+ hex digits)",
            reason="version_not_found",
        )
    found = matches[0]
    if found.retired:
        raise FailedPrecondition(
            f"version {found.version} of {name!r} is retired", reason="version_retired"
        )
    return found


def set_active(store: Path, name: str, version: str) -> None:
    """Record ``version`` as the active version of ``name`` (atomically)."""

    def change(manifest: Manifest) -> Manifest:
        entry = resolve_version(manifest, name, version)
        return manifest.with_dataset(
            name, replace(dataset_entry(manifest, name), active=entry.version)
        )

    update_manifest(store, change)


def publish_served(store: Path, versions: Mapping[str, str]) -> None:
    """Record the versions this process serves (``served/<pid>.json``, replaced atomically)."""
    folder = store / SERVED
    folder.mkdir(exist_ok=True)
    temporary = folder / f".{os.getpid()}.tmp"
    temporary.write_text(json.dumps({"pid": os.getpid(), "versions": dict(versions)}))
    os.replace(temporary, folder / f"{os.getpid()}.json")
    fsync_dir(folder)


def withdraw_served(store: Path) -> None:
    """This process serves nothing any more."""
    (store / SERVED / f"{os.getpid()}.json").unlink(missing_ok=True)


def served_versions(store: Path) -> dict[str, frozenset[str]]:
    """Per dataset, the versions live zone processes serve (records of dead ones are ignored)."""
    served: dict[str, set[str]] = {}
    for record in sorted((store / SERVED).glob("*.json")):
        try:
            doc = json.loads(record.read_text())
            pid, versions = int(doc["pid"]), {str(k): str(v) for k, v in doc["versions"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if not _alive(pid):
            continue
        for name, version in versions.items():
            served.setdefault(name, set()).add(version)
    return {name: frozenset(found) for name, found in served.items()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _all_served(store: Path) -> set[str]:
    return {v for found in served_versions(store).values() for v in found}


def retire_version(store: Path, name: str, version: str) -> VersionEntry:
    """Retire a kept version that is neither active nor served by the running zone.

    Raises:
        NotFound: no such dataset or version.
        FailedPrecondition: it is active, served, or already retired.
    """
    served = _all_served(store)
    retired: list[VersionEntry] = []

    def change(manifest: Manifest) -> Manifest:
        entry = dataset_entry(manifest, name)
        found = resolve_version(manifest, name, version)
        if found.version == entry.active or found.version in served:
            raise FailedPrecondition(
                f"version {found.version} of {name!r} is active or served; activate another "
                "version first", reason="version_in_use",
            )  # fmt: skip
        retired.append(retire_entry(found, _now()))
        versions = tuple(retired[0] if v.version == found.version else v for v in entry.versions)
        return manifest.with_dataset(name, replace(entry, versions=versions))

    update_manifest(store, change)
    return retired[0]


def sweep(store: Path, in_use: Collection[str]) -> list[str]:
    """Delete the files of retired versions nothing uses; returns the versions dropped.

    ``in_use``: versions read by queued or running training jobs. Versions a running zone
    serves (``served/``) are kept too. The manifest marks them dropped first, so a crash
    leaves at worst an unlisted file, which the next import removes.
    """
    keep = set(in_use) | _all_served(store)
    dropped: list[VersionEntry] = []

    def change(manifest: Manifest) -> Manifest:
        dropped.clear()
        for name, entry in manifest.datasets.items():
            versions = []
            for v in entry.versions:
                if v.retired and not v.dropped and v.version not in keep:
                    dropped.append(v)
                    v = replace(v, dropped=True)
                versions.append(v)
            manifest = manifest.with_dataset(name, replace(entry, versions=tuple(versions)))
        return manifest

    if not (store / "catalog.json").is_file():
        return []
    update_manifest(store, change)
    for v in dropped:
        (store / v.file).unlink(missing_ok=True)
    return [v.version for v in dropped]


def list_versions(store: Path, name: str) -> tuple[DatasetEntry, frozenset[str]]:
    """The versions of ``name`` (import order) and those running zone processes serve."""
    entry = dataset_entry(read_manifest(store), name)
    return entry, served_versions(store).get(name, frozenset())


def retired_versions(store: Path, name: str) -> frozenset[str]:
    """The retired versions of dataset ``name`` (empty for an unknown dataset)."""
    entry = read_manifest(store).datasets.get(name)
    return frozenset(v.version for v in entry.versions if v.retired) if entry else frozenset()


def active_version(store: Path, name: str) -> str:
    """The active version of ``name`` in the manifest ("" when none)."""
    entry = read_manifest(store).datasets.get(name)
    return (entry.active or "") if entry else ""
