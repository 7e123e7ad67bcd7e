"""``zone datasets import|list``: the dataset store, administered from the zone's host.

An import validates every value against the metadata, prints the quality report and writes a
new version beside the served ones, so it runs while the zone serves; the running zone switches
to it at its next reload (``zone policy reload``, SIGHUP) or ``zone datasets activate``. Every
import, accepted or refused, is audited with its quality report's digest.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    listing = datasets.add_parser("list", help="list the active version of each dataset")
    listing.set_defaults(handler=_list)
    listing.add_argument("--config", required=True, help="zone config file (YAML)")


def _config(args: argparse.Namespace) -> ZoneConfig:
    return load_config(Path(args.config))


def _import(args: argparse.Namespace) -> int:
    from zone.catalog import ImportRefused, import_dataset, load_metadata

    config = _config(args)
    meta = load_metadata(Path(args.meta))
    try:
        result = import_dataset(
            config.datasets_db, Path(args.path), args.name, meta, meta_source=args.meta,
            replace_existing=args.replace, activate=not args.stage, allow_empty=args.allow_empty,
        )  # fmt: skip
    except ImportRefused as refused:
        print(refused.report.to_text())
        _audit(config, {"dataset": args.name, "outcome": "refused",
                        "report_digest": refused.report.digest})  # fmt: skip
        raise
    info = result.info
    print(result.report.to_text())
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


def _audit(config: ZoneConfig, record: dict[str, Any]) -> None:
    from zone.audit import AuditChain
    from zone.state.opening import open_state

    store = open_state(config.state_db, config.state)
    try:
        AuditChain(store).append("dataset.import", record)
    finally:
        store.close()


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
