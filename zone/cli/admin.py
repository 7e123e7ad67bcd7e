"""``zone admin budgets|usage|revenue|audit``: the administrator's views, as tables or CSV.

Periods are ``[--from, --to)`` in UTC (a date ``YYYY-MM-DD`` or an ISO datetime); usage and
revenue default to the current UTC month so far. ``--csv FILE`` writes the rows for accounting
(amounts as exact decimals and as integer micro-units) instead of printing a table.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from zone.cli.connect import add_connection, connect
from zone.client import ZoneClient
from zone.money import format_micro

Table = tuple[list[str], list[list[str]]]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``zone admin`` commands."""
    admin = sub.add_parser("admin", help="budgets, usage, revenue and audit (admin token)")
    views = admin.add_subparsers(dest="sub", required=True)

    def command(name: str, help_text: str, *, period: bool = True) -> argparse.ArgumentParser:
        p = views.add_parser(name, help=help_text)
        p.set_defaults(handler=run)
        add_connection(p, admin=True)
        p.add_argument("--csv", type=Path, help="write the rows to this CSV file")
        if period:
            p.add_argument("--from", dest="start", type=_moment, help="UTC date or time")
            p.add_argument("--to", dest="end", type=_moment, help="UTC date or time (excluded)")
        return p

    budgets = command("budgets", "privacy budgets and zone-wide caps", period=False)
    budgets.add_argument("--principal", default="", help="only this principal (default: all)")
    budgets.add_argument("--dataset", default="", help="only this dataset (default: all)")
    usage = command("usage", "metered calls, jobs and amounts per principal and product")
    usage.add_argument("--principal", default="", help="only this principal (default: all)")
    usage.add_argument("--product", default="", help="only this product (default: all)")
    command("revenue", "revenue per data provider").add_argument(
        "--provider", default="", help="only this data provider (default: all)"
    )
    audit = command("audit", "audit records, oldest first")
    audit.add_argument("--principal", default="", help="only this principal (default: all)")
    audit.add_argument("--product", default="", help="only this product (default: all)")
    audit.add_argument("--kind", default="", help="only records of this kind (default: all)")
    audit.add_argument("--limit", type=int, default=100, help="at most this many records")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or ISO time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _month_start() -> datetime:
    now = datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _eps(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def _budgets(client: ZoneClient, args: argparse.Namespace) -> Table:
    report = client.get_budgets(principal=args.principal, dataset=args.dataset)
    header = (
        "scope principal dataset limit_epsilon spent_epsilon remaining_epsilon "
        "limit_delta spent_delta remaining_delta granted"
    ).split()
    rows = [
        [
            "principal",
            b.principal,
            b.dataset,
            _eps(b.limit_epsilon),
            _eps(b.spent_epsilon),
            _eps(b.remaining_epsilon),
            f"{b.limit_delta:g}",
            f"{b.spent_delta:g}",
            f"{b.remaining_delta:g}",
            "yes" if b.granted else "no",
        ]
        for b in report.budgets
    ]
    rows += [
        [
            "zone cap",
            "",
            c.dataset,
            _eps(c.cap_epsilon),
            _eps(c.spent_epsilon),
            _eps(c.remaining_epsilon),
            "-" if c.cap_delta is None else f"{c.cap_delta:g}",
            f"{c.spent_delta:g}",
            "-" if c.remaining_delta is None else f"{c.remaining_delta:g}",
            "",
        ]
        for c in report.caps
    ]
    return header, rows


def _period(args: argparse.Namespace) -> tuple[datetime, datetime | None]:
    return (args.start or _month_start()), args.end


def _period_text(start: datetime, end: datetime | None) -> list[str]:
    return [start.isoformat(), "" if end is None else end.isoformat()]


def _usage(client: ZoneClient, args: argparse.Namespace) -> Table:
    start, end = _period(args)
    found = client.get_usage(start, end, principal=args.principal, product=args.product)
    header = (
        "period_start period_end principal product currency calls jobs unbilled "
        "amount waived amount_micro"
    ).split()
    rows = [
        [
            *_period_text(start, end),
            u.principal,
            u.product,
            u.currency,
            str(u.calls),
            str(u.jobs),
            str(u.unbilled),
            format_micro(u.amount_micro),
            format_micro(u.waived_micro),
            str(u.amount_micro),
        ]
        for u in found
    ]
    return header, rows


def _revenue(client: ZoneClient, args: argparse.Namespace) -> Table:
    start, end = _period(args)
    found = client.get_revenue(start, end, provider=args.provider)
    header = "period_start period_end provider currency charges amount amount_micro".split()
    rows = [
        [
            *_period_text(start, end),
            r.provider,
            r.currency,
            str(r.charges),
            format_micro(r.amount_micro),
            str(r.amount_micro),
        ]
        for r in found
    ]
    return header, rows


def _audit(client: ZoneClient, args: argparse.Namespace) -> Table:
    header = ["seq", "time", "kind", "principal", "product", "record"]
    rows: list[list[str]] = []
    records = client.iter_audit(
        principal=args.principal,
        product=args.product,
        kind=args.kind,
        start=args.start,
        end=args.end,
        page_size=min(max(args.limit, 1), 1000),
    )
    for record in records:
        fields = record.record
        rows.append(
            [
                str(record.seq),
                record.time,
                record.kind,
                str(fields.get("principal") or ""),
                str(fields.get("product") or ""),
                record.record_json,
            ]
        )
        if len(rows) >= args.limit:
            break
    return header, rows


_VIEWS = {"budgets": _budgets, "usage": _usage, "revenue": _revenue, "audit": _audit}


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], width: int = 60) -> None:
    """Print a plain table, cutting cells at ``width`` characters."""
    cells = [[c if len(c) <= width else c[: width - 3] + "..." for c in row] for row in rows]
    widths = [max(len(c) for c in col) for col in zip(header, *cells, strict=True)]
    for row in (header, *cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def run(args: argparse.Namespace) -> int:
    """Run one ``zone admin`` command."""
    with connect(args) as client:
        header, rows = _VIEWS[args.sub](client, args)
    if args.csv is not None:
        with args.csv.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
        print(f"wrote {len(rows)} rows to {args.csv}", file=sys.stderr)
    else:
        print_table(header, rows)
    return 0
