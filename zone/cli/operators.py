"""``zone operators report ID --period YYYY-MM [--csv]``: an operator's evaluation (运营评价).

Read offline from the state database (read-only; the zone may be serving). Every figure is a
sum over the audit chain (``zone.admin.evaluation`` defines each one).

``zone operators exit ID --note TEXT [--out FILE]`` (退出) calls the running zone
(``AdminService.ExitPrincipal``, admin token; ``zone.admin.exits`` says what it does) and
prints or writes the exit receipt with its inclusion proof (``zone receipt verify`` checks it
offline once a checkpoint covers it).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

from zone.admin.evaluation import report_from
from zone.cli.connect import add_connection, connect
from zone.cli.statedb import reading_state
from zone.config import load_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``zone operators report`` and ``zone operators exit``."""
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
    leave = actions.add_parser(
        "exit", help="remove a principal from the zone and print its exit receipt (admin)"
    )
    leave.set_defaults(handler=_cmd_exit)
    leave.add_argument("principal", help="principal id (an operator or researcher)")
    leave.add_argument("--note", default="", help="why (kept on the audit chain)")
    leave.add_argument("--out", type=Path, help="write the receipt bundle (JSON) to this file")
    add_connection(leave, admin=True)


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


def _cmd_exit(args: argparse.Namespace) -> int:
    import json

    from zone.client.receipts import write_bundle

    with connect(args) as client:
        done = client.exit_principal(args.principal, note=args.note)
        bundle = client.get_receipt(done.receipt_id)
    state = "had already exited" if done.already_exited else "has exited"
    r = done.receipt
    print(
        f"{done.principal} {state}: receipt {done.receipt_id} (audit entry {done.audit_seq}); "
        f"{len(r['jobs_ended'])} job(s) ended, {len(r['cohorts_erased'])} cohort(s) and "
        f"{len(r['keys_erased'])} key(s) erased, {r['open_charges_failed']} open charge(s) "
        "settled"
    )
    if args.out is None:
        print(json.dumps(bundle.to_dict(), indent=2, sort_keys=True))
    else:
        write_bundle(bundle, args.out)
    return 0
