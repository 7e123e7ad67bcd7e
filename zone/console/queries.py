"""Read queries behind the console's views, each in one read transaction of the state store.

Every query is bounded (a time range found by binary search on the audit chain's key, or a
row limit), so a page's cost does not grow with the whole history. Filters are bound
parameters, never text pasted into SQL.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from zone.audit.chain import first_seq_at
from zone.jobs.records import JOB_COLUMNS, Job, job_from_row
from zone.metering.pricing import iso
from zone.state.api import State

MAX_ROWS = 200


@dataclass(frozen=True)
class CallSeries:
    """Calls per product per hour: hour labels and one count per hour for each product."""

    hours: list[str]
    calls: dict[str, list[int]]
    refused: list[int]


def calls_per_product(store: State, now: datetime, hours: int = 24) -> CallSeries:
    """Audited gRPC calls of the last ``hours`` hours, per product (catalog calls: '(none)')."""
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    labels = [(start + timedelta(hours=i)).strftime("%d %H:00") for i in range(hours)]
    index = {(start + timedelta(hours=i)).strftime("%Y-%m-%dT%H"): i for i in range(hours)}
    calls: dict[str, list[int]] = defaultdict(lambda: [0] * hours)
    refused = [0] * hours
    with store.read() as conn:
        first = first_seq_at(conn, iso(start))
        rows = conn.execute(
            "SELECT substr(ts, 1, 13), json_extract(record, '$.product'), "
            "json_extract(record, '$.decision'), count(*) FROM audit_log "
            "WHERE seq >= ? AND kind = 'rpc' GROUP BY 1, 2, 3",
            (first,),
        ).fetchall()
    for hour, product, decision, count in rows:
        slot = index.get(hour)
        if slot is None:
            continue
        calls[product or "(none)"][slot] += int(count)
        if decision == "deny":
            refused[slot] += int(count)
    return CallSeries(labels, dict(calls), refused)


@dataclass(frozen=True)
class BurnDown:
    """Remaining budget over time: per account (principal x dataset) and per dataset cap."""

    labels: list[str]
    accounts: dict[str, list[float]]
    caps: dict[str, list[float]]


def burn_down(
    store: State,
    limits: dict[tuple[str, str], int],
    caps: dict[str, int],
    now: datetime,
    days: int = 30,
) -> BurnDown:
    """Epsilon remaining at the end of each of the last ``days`` days (charges not refunded).

    ``limits`` and ``caps`` are micro-epsilon from the policy set in force; accounts without a
    limit are left out. Spending before the first day counts from the start.
    """
    first_day = (now - timedelta(days=days - 1)).date()
    labels = [(first_day + timedelta(days=i)).strftime("%m-%d") for i in range(days)]
    account_spent: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * days)
    dataset_spent: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT substr(created_at, 1, 10), principal, dataset, SUM(epsilon_micro) "
            "FROM charges WHERE state != 'refunded' GROUP BY 1, 2, 3"
        ).fetchall()
    for day_text, principal, dataset, spent in rows:
        day = datetime.fromisoformat(day_text).date()
        slot = max(0, (day - first_day).days)
        if slot >= days:
            continue
        account_spent[(principal, dataset)][slot] += int(spent)
        dataset_spent[dataset][slot] += int(spent)

    def remaining(limit: int, daily: list[int]) -> list[float]:
        out, total = [], 0
        for amount in daily:
            total += amount
            out.append(max(0, limit - total) / 1_000_000)
        return out

    accounts = {
        f"{p} / {d}": remaining(limit, account_spent.get((p, d), [0] * days))
        for (p, d), limit in sorted(limits.items())
        if limit > 0
    }
    cap_lines = {
        f"zone-wide {d}": remaining(cap, dataset_spent.get(d, [0] * days))
        for d, cap in sorted(caps.items())
    }
    return BurnDown(labels, accounts, cap_lines)


def jobs(store: State, *, state: str = "", principal: str = "") -> list[Job]:
    """The newest jobs (at most ``MAX_ROWS``), optionally of one state and/or principal."""
    clauses, args = ["1 = 1"], []  # portable: PostgreSQL wants a boolean
    for column, value in (("state", state), ("principal", principal)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    with store.read() as conn:
        rows = conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE {' AND '.join(clauses)} "
            "ORDER BY created_at DESC LIMIT ?",
            (*args, MAX_ROWS),
        ).fetchall()
    return [job_from_row(row) for row in rows]


def job_states(store: State) -> dict[str, int]:
    """Number of jobs in each state."""
    with store.read() as conn:
        rows = conn.execute("SELECT state, count(*) FROM jobs GROUP BY 1 ORDER BY 1").fetchall()
    return {str(state): int(n) for state, n in rows}


def kept_models(store: State) -> list[dict[str, Any]]:
    """Every kept model (newest first, at most ``MAX_ROWS``) and whether it is revoked."""
    with store.read() as conn:
        rows = conn.execute(
            "SELECT m.model_id, m.owner, m.product, m.job_id, m.created_at, "
            "r.revoked_at, r.revoked_by, r.note FROM models m "
            "LEFT JOIN model_revocations r ON r.model_id = m.model_id "
            "ORDER BY m.created_at DESC LIMIT ?",
            (MAX_ROWS,),
        ).fetchall()
    keys = (
        "model_id",
        "owner",
        "product",
        "job_id",
        "created_at",
        "revoked_at",
        "revoked_by",
        "note",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


def releases(
    store: State, *, principal: str = "", product: str = "", kind: str = "", release_id: str = ""
) -> list[dict[str, Any]]:
    """Releases matching the filters (exact values; newest first, at most ``MAX_ROWS``)."""
    clauses, args = ["1 = 1"], []  # portable: PostgreSQL wants a boolean
    for column, value in (
        ("principal", principal),
        ("product", product),
        ("kind", kind),
        ("release_id", release_id),
    ):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT release_id, audit_seq, principal, product, kind, created_at, receipt "
            f"FROM releases WHERE {' AND '.join(clauses)} ORDER BY audit_seq DESC LIMIT ?",
            (*args, MAX_ROWS),
        ).fetchall()
    out = []
    for release, seq, who, what, kind_, created, receipt in rows:
        parsed = json.loads(receipt)
        out.append(
            {
                "release_id": release,
                "audit_seq": seq,
                "principal": who,
                "product": what,
                "kind": kind_,
                "created_at": created,
                "epsilon_micro": parsed.get("epsilon_micro", 0),
                "dataset_version": parsed.get("dataset_version", ""),
            }
        )
    return out


def totals(store: State) -> dict[str, int]:
    """Headline counts: audit records, releases, jobs running, open alerts."""
    with store.read() as conn:
        row = conn.execute(
            "SELECT (SELECT coalesce(max(seq), 0) FROM audit_log), "
            "(SELECT count(*) FROM releases), "
            "(SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')), "
            "(SELECT count(*) FROM alerts WHERE acknowledged_at IS NULL), "
            "(SELECT count(*) FROM principal_suspensions)"
        ).fetchone()
    keys = ("audit_records", "releases", "active_jobs", "open_alerts", "suspended")
    return dict(zip(keys, (int(v) for v in row), strict=True))


def utc_now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)
