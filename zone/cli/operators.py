"""``zone operators report ID --period YYYY-MM [--csv]``: an operator's evaluation (运营评价).

Read offline from the state database (read-only; the zone may be serving). Every figure is a
sum over the audit chain (``zone.admin.evaluation`` defines each one).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

from zone.admin.evaluation import report_from
from zone.cli.statedb import reading_state
from zone.config import load_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``zone operators report``."""
    operators = sub.add_parser("operators", help="operator evaluation")
    actions = operators.add_subparsers(dest="sub", required=True)
    report = actions.add_parser("report", help="one principal's figures for a month")
    report.set_defaults(handler=_cmd_report)
    report.add_argument("principal", help="principal id (an operator or researcher)")
    report.add_argument(
        "--period",
        default=datetime.now(UTC).strftime("%Y-%m"),
        help="UTC calendar month, YYYY-MM (default: this month)",
    )
    report.add_argument("--csv", action="store_true", help="print CSV (figure,value)")
    report.add_argument("--config", required=True, help="zone config file (YAML)")


def _cmd_report(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    with reading_state(config.state_db) as conn:
        report = report_from(conn, args.principal, args.period)
    rows = report.rows()
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("figure", "value"))
        writer.writerows(rows)
        return 0
    print(f"{report.principal}, {report.period} (UTC), sums over the audit chain")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")
    return 0
