"""``zone datasets import|list|versions|activate|retire``: the dataset store and its versions.

An import validates every value against the metadata, prints the quality report and writes a
new version beside the served ones, so it runs while the zone serves; the running zone switches
to it at its next reload (``zone policy reload``, SIGHUP) or ``zone datasets activate``. Every
import (accepted or refused), activation and retirement is audited; imports with the quality
report's digest. ``activate`` calls the running zone (``ActivateDataset``), or with
``--offline`` changes the store of a stopped zone after the same validation.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zone.cli.connect import add_connection, connect
from zone.config import ZoneConfig, load_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``zone datasets`` commands."""
    datasets = sub.add_parser("datasets", help="dataset administration").add_subparsers(
        dest="sub", required=True
    )
    imp = datasets.add_parser("import", help="validate a CSV or Parquet file and add a version")
    imp.set_defaults(handler=_import)
    imp.add_argument("--config", required=True, help="zone config file (YAML)")
    imp.add_argument("path")
    imp.add_argument("--name", required=True)
    imp.add_argument("--meta", required=True, help="metadata YAML covering every column")
    imp.add_argument("--replace", action="store_true",
                     help="add a new version of an existing dataset")  # fmt: skip
    imp.add_argument("--stage", action="store_true",
                     help="keep the new version without activating it")  # fmt: skip
    imp.add_argument("--allow-empty", action="store_true",
                     help="accept a file with a header and no data rows")  # fmt: skip
    imp.add_argument("--compact", action="store_true",
                     help="compress unique text: a smaller file, a slower import")  # fmt: skip
    listing = datasets.add_parser("list", help="list the active version of each dataset")
    listing.set_defaults(handler=_list)
    listing.add_argument("--config", required=True, help="zone config file (YAML)")
    versions = datasets.add_parser("versions", help="list the versions of a dataset")
    versions.set_defaults(handler=_versions)
    versions.add_argument("--config", required=True, help="zone config file (YAML)")
    versions.add_argument("name")
    activate = datasets.add_parser("activate", help="serve another kept version (rollback too)")
    activate.set_defaults(handler=_activate)
    activate.add_argument("name")
    activate.add_argument("version", help="sha256:<hex> or a unique prefix of 8+ hex digits")
    add_connection(activate, admin=True)
    activate.add_argument("--offline", action="store_true",
                          help="change the store of a stopped zone (needs --config)")  # fmt: skip
    activate.add_argument("--config", help="zone config file (YAML), with --offline")
    retire = datasets.add_parser("retire", help="retire a version; its file is dropped when unused")
    retire.set_defaults(handler=_retire)
    retire.add_argument("--config", required=True, help="zone config file (YAML)")
    retire.add_argument("name")
    retire.add_argument("version", help="sha256:<hex> or a unique prefix of 8+ hex digits")


def _config(args: argparse.Namespace) -> ZoneConfig:
    return load_config(Path(args.config))


def _import(args: argparse.Namespace) -> int:
    from zone.catalog import ImportRefused, import_dataset, load_metadata
    from zone.catalog.versions import sweep

    config = _config(args)
    meta = load_metadata(Path(args.meta))
    try:
        result = import_dataset(
            config.datasets_db, Path(args.path), args.name, meta, meta_source=args.meta,
            replace_existing=args.replace, activate=not args.stage, allow_empty=args.allow_empty,
            compact_text=args.compact,
        )  # fmt: skip
    except ImportRefused as refused:
        print(refused.report.to_text())
        _audit(config, {"dataset": args.name, "outcome": "refused",
                        "report_digest": refused.report.digest})  # fmt: skip
        raise
    info = result.info
    print(result.report.to_text())
    sweep(config.datasets_db, _in_use(config))  # retired versions no job reads any more
    _audit(config, {"dataset": info.name, "outcome": "accepted", "version": info.version,
                    "previous_version": result.previous or "", "rows": info.row_count,
                    "activated": result.activated,
                    "report_digest": result.report.digest})  # fmt: skip
    state = "active" if result.activated else "kept, not active"
    print(f"imported {info.name}: {info.row_count} rows, version {info.version} ({state})")
    if result.previous and result.activated:
        print(f"a running zone keeps serving {result.previous} until its next reload "
              "(zone policy reload, SIGHUP) or zone datasets activate")  # fmt: skip
    return 0


def _audit(config: ZoneConfig, record: dict[str, Any], kind: str = "dataset.import") -> None:
    from zone.audit import AuditChain
    from zone.state.opening import open_state

    store = open_state(config.state_db, config.state)
    try:
        AuditChain(store).append(kind, record)
    finally:
        store.close()


def _in_use(config: ZoneConfig) -> set[str]:
    """Dataset versions read by queued or running training jobs."""
    from zone.audit import AuditChain
    from zone.jobs import JobStore
    from zone.state.opening import open_state

    store = open_state(config.state_db, config.state)
    try:
        jobs = JobStore(store, AuditChain(store)).running()
    finally:
        store.close()
    return {str(job.spec.get("dataset_version", "")) for job in jobs}


def _versions(args: argparse.Namespace) -> int:
    from zone.catalog.versions import list_versions

    entry, served = list_versions(_config(args).datasets_db, args.name)
    rows = []
    for v in entry.versions:
        states = ["active"] if v.version == entry.active else []
        states += ["served"] if v.version in served else []
        states += ["dropped" if v.dropped else "retired"] if v.retired else []
        rows.append((v.version, v.imported_at, str(v.rows), ",".join(states) or "kept",
                     v.report_digest[:19]))  # fmt: skip
    print_table(("version", "imported_at", "rows", "state", "report"), rows)
    return 0


def _activate(args: argparse.Namespace) -> int:
    if not args.offline:
        with connect(args) as client:
            done = client.activate_dataset(args.name, args.version)
        print(f"{done.name}: serving {done.version} (was {done.previous_version or 'none'})")
        return 0
    from zone.catalog._manifest import read_manifest
    from zone.catalog.versions import resolve_version, set_active
    from zone.serving import Sources, load_snapshot

    if not args.config:
        raise SystemExit("zone datasets activate --offline needs --config")
    config = _config(args)
    store = config.datasets_db
    manifest = read_manifest(store)
    entry = resolve_version(manifest, args.name, args.version)
    chosen = {n: e.version for n, e in manifest.active().items()} | {args.name: entry.version}
    load_snapshot(Sources(store, config.models_dir, config.policies_dir), chosen).datasets.close()
    previous = manifest.datasets[args.name].active or ""
    set_active(store, args.name, entry.version)
    _audit(config, {"dataset": args.name, "version": entry.version, "previous_version": previous,
                    "report_digest": entry.report_digest, "principal": "cli"},
           kind="dataset.activate")  # fmt: skip
    print(f"{args.name}: active version {entry.version} (was {previous or 'none'}); "
          "a running zone switches at its next reload")  # fmt: skip
    return 0


def _retire(args: argparse.Namespace) -> int:
    from zone.catalog.versions import retire_version, sweep

    config = _config(args)
    retired = retire_version(config.datasets_db, args.name, args.version)
    dropped = sweep(config.datasets_db, _in_use(config))
    _audit(config, {"dataset": args.name, "version": retired.version,
                    "dropped": retired.version in dropped}, kind="dataset.retire")  # fmt: skip
    where = "its file is deleted" if retired.version in dropped else (
        "its file is deleted once the training jobs reading it have ended")  # fmt: skip
    print(f"{args.name}: retired {retired.version}; {where}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from zone.catalog import list_datasets

    rows = [
        (i.name, str(i.row_count), i.version[:19], i.imported_at, i.meta.provider)
        for i in list_datasets(_config(args).datasets_db)
    ]
    print_table(("name", "rows", "version", "imported_at", "provider"), rows)
    return 0


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
