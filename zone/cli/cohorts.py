"""``zone cohorts upload|describe|list|erase``: an operator's cohorts for joint training.

``zone cohorts upload FILE.csv --schema cohort.yaml`` checks the schema here first (every
problem with its ``cohort.yaml:line``), then streams the CSV; the zone checks the rows and
answers with the upload id and the SHA-256 of the bytes it stored.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from zone.cli.connect import add_connection, connect
from zone.client.cohorts import CohortRecord
from zone.errors import ValidationFailed
from zone.products.joint.schema import parse_schema
from zone.yamlio import load_yaml


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``zone cohorts`` commands."""
    cohorts = sub.add_parser("cohorts", help="cohorts for joint training (operators)")
    commands = cohorts.add_subparsers(dest="sub", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_text)
        p.set_defaults(handler=run)
        add_connection(p)
        return p

    upload = command("upload", "upload a cohort CSV with its schema (cohort.yaml)")
    upload.add_argument("csv", help="the cohort: key, label and feature columns")
    upload.add_argument("--schema", required=True, help="cohort.yaml")
    for name in ("describe", "erase"):
        command(name, f"{name} one of your cohorts").add_argument("upload_id")
    command("list", "your cohorts, newest first").add_argument("--limit", type=int, default=50)


def load_schema(path: Path) -> dict[str, Any]:
    """The schema's plain data, checked whole (problems located as ``file:line``).

    Raises:
        ValidationFailed: every problem of the file.
    """
    doc = load_yaml(path)
    schema, problems = parse_schema(doc.data)
    if schema is None:
        raise ValidationFailed([doc.problem(loc, message) for loc, message in problems],
                               what=f"checking {path}")  # fmt: skip
    return schema.to_dict()


def _line(c: CohortRecord) -> str:
    text = f"{c.upload_id}  {c.state:<6}  {c.product}  {c.rows} rows  {c.digest}"
    if c.state == "erased":
        return f"{text}  erased {c.erased_at} ({c.erase_trigger}), receipt {c.erasure_id}"
    return f"{text}  expires {c.expires_at}"


def run(args: argparse.Namespace) -> int:
    """Run one ``zone cohorts`` command."""
    schema = load_schema(Path(args.schema)) if args.sub == "upload" else {}
    with connect(args) as client:
        if args.sub == "upload":
            print(_line(client.upload_cohort(Path(args.csv), schema)))
        elif args.sub == "describe":
            print(_line(client.describe_cohort(args.upload_id)))
        elif args.sub == "erase":
            print(_line(client.erase_cohort(args.upload_id)))
        else:
            for record in client.list_cohorts(args.limit):
                print(_line(record))
    return 0
