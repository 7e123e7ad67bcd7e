"""``zone cohorts upload|describe|list|erase|estimate|train``: cohorts for joint training.

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
    command("list", "your cohorts, newest first").add_argument(
        "--limit", type=int, default=50, help="at most this many (default: 50)"
    )
    estimate = command("estimate", "what a joint job would charge (and a DP matched count)")
    train = command("train", "submit a joint training job on a cohort (reserves epsilon)")
    for p in (estimate, train):
        p.add_argument("upload_id")
        p.add_argument("--product", required=True)
        p.add_argument("--epsilon", type=float, required=True)
        p.add_argument("--delta", type=float, required=True)
        p.add_argument("--zone-feature", action="append", default=[], dest="zone_features")
        p.add_argument("--operator-feature", action="append", default=[], dest="operator_features")
        p.add_argument("--no-operator-features", action="store_true")
        for name, kind in _HYPER.items():
            p.add_argument(f"--{name.replace('_', '-')}", type=kind)
    estimate.add_argument(
        "--dp-match-count",
        action="store_true",
        help="also release a DP count of matched keys (charged)",
    )
    train.add_argument("--keep-in-zone", action="store_true")
    train.add_argument("--keep-cohort", action="store_true", help="do not erase at job end")
    train.add_argument("--wait", action="store_true", help="watch until the job ends")


_HYPER = {
    "epochs": int,
    "batch_size": int,
    "learning_rate": float,
    "max_grad_norm": float,
    "seed": int,
}


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {k: getattr(args, k) for k in _HYPER if getattr(args, k) is not None}
    options.update(
        zone_features=args.zone_features,
        operator_features=args.operator_features,
        no_operator_features=args.no_operator_features,
    )
    for flag in ("keep_in_zone", "keep_cohort", "dp_match_count"):
        if getattr(args, flag, False):
            options[flag] = True
    return options


def _joint(client: Any, args: argparse.Namespace) -> int:
    common = (args.product, args.upload_id)
    if args.sub == "estimate":
        e = client.estimate_joint(*common, epsilon=args.epsilon, delta=args.delta, **_options(args))
        print(f"cohort {e.cohort_rows} rows; {e.steps} steps at sample rate {e.sample_rate:.4g}")
        print(f"charged epsilon {e.charged_epsilon:g}, delta {e.charged_delta:g} ({e.accounting})")
        if e.dp_matched is not None:
            print(
                f"DP matched count {e.dp_matched} (epsilon {e.match_epsilon:g}, "
                f"receipt {e.match_release_id})"
            )
        return 0
    handle = client.train_joint(*common, epsilon=args.epsilon, delta=args.delta, **_options(args))
    print(f"{handle.job_id}  {handle.last.state}")
    if args.wait:
        final = handle.wait(lambda s: print(f"{s.job_id}  {s.state}  epoch {s.epoch}/{s.epochs}"))
        return 0 if final.state == "SUCCEEDED" else 1
    return 0


def load_schema(path: Path) -> dict[str, Any]:
    """The schema's plain data, checked whole (problems located as ``file:line``).

    Raises:
        ValidationFailed: every problem of the file.
    """
    doc = load_yaml(path)
    schema, problems = parse_schema(doc.data)
    if schema is None:
        raise ValidationFailed(
            [doc.problem(loc, message) for loc, message in problems], what=f"checking {path}"
        )
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
        elif args.sub in ("estimate", "train"):
            return _joint(client, args)
        else:
            for record in client.list_cohorts(args.limit):
                print(_line(record))
    return 0
