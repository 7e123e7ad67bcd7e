"""The admin view of consent: checks made without consent, and what one consent was used for.

Both read ``consent_uses``, written in the same transaction as every admitted subject check,
so they see exactly the checks that committed. Run them in ``StateStore.read()``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zone.consent.records import ConsentRecord, consent_label, find, split_label
from zone.consent.terms import ConsentMode
from zone.errors import InvalidArgument, NotFound
from zone.state.api import Tx

MAX_ROWS = 10_000
_USE_COLUMNS = (
    "use_id, request_id, principal, product, mode, subject, purpose, issuer, consent_id, used_at"
)


@dataclass(frozen=True)
class ConsentUse:
    """One admitted subject check, with the consent it used (None when none was needed)."""

    use_id: int
    request_id: str
    principal: str
    product: str
    mode: ConsentMode
    subject: str
    purpose: str
    consent: str | None
    used_at: datetime

    def describe(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "request_id": self.request_id,
            "principal": self.principal,
            "product": self.product,
            "mode": self.mode,
            "subject": self.subject,
            "purpose": self.purpose,
            "consent": self.consent,
            "used_at": self.used_at.isoformat(),
        }


@dataclass(frozen=True)
class ConsentReport:
    """What one consent authorized and each check it admitted, oldest first."""

    record: ConsentRecord
    uses: tuple[ConsentUse, ...]


def checked_without_consent(
    conn: Tx,
    *,
    requiring: Collection[str],
    after_use: int = 0,
    limit: int = 1000,
) -> list[ConsentUse]:
    """Subject checks of products that require consent, made without one.

    Must be empty. The table's CHECK already ties a missing consent to mode ``none``, so rows
    appear only for checks made while a product was declared ``consent: none`` and that now
    requires consent (the catalog changed), which an administrator may want to review.

    Args:
        conn: A read (or write) connection.
        requiring: Ids of the products whose declared consent mode is not ``none`` now.
        after_use: Return rows after this ``use_id`` (pagination).
        limit: At most this many rows (1 to 10,000).

    Returns:
        The checks, in the order they were made.

    Raises:
        InvalidArgument: ``limit`` is out of range.
    """
    _check_limit(limit)
    rows = conn.execute(
        f"SELECT {_USE_COLUMNS} FROM consent_uses WHERE consent_id IS NULL "
        "AND product IN (SELECT value FROM json_each(?)) AND use_id > ? ORDER BY use_id LIMIT ?",
        (_json_list(requiring), after_use, limit),
    ).fetchall()
    return [_use(row) for row in rows]


def consent_report(conn: Tx, consent: str, *, limit: int = 1000) -> ConsentReport:
    """What consent ``consent`` (``id`` or ``issuer/id``) authorized and how it was used.

    Raises:
        NotFound: no such consent (an authority token appears once it has been presented).
        InvalidArgument: ``limit`` is out of range.
    """
    _check_limit(limit)
    issuer, consent_id = split_label(consent)
    record = find(conn, issuer, consent_id)
    if record is None:
        raise NotFound("no such consent", reason="unknown_consent")
    rows = conn.execute(
        f"SELECT {_USE_COLUMNS} FROM consent_uses WHERE issuer = ? AND consent_id = ? "
        "ORDER BY use_id LIMIT ?",
        (issuer, consent_id, limit),
    ).fetchall()
    return ConsentReport(record, tuple(_use(row) for row in rows))


def _check_limit(limit: int) -> None:
    if not 0 < limit <= MAX_ROWS:
        raise InvalidArgument(f"limit must be from 1 to {MAX_ROWS}")


def _json_list(values: Collection[str]) -> str:
    return json.dumps(sorted(values))


def _use(row: tuple[Any, ...]) -> ConsentUse:
    use_id, request_id, principal, product, mode, subject, purpose, issuer, cid, used_at = row
    return ConsentUse(
        use_id=use_id,
        request_id=request_id,
        principal=principal,
        product=product,
        mode=mode,
        subject=subject,
        purpose=purpose,
        consent=None if cid is None else consent_label(issuer, cid),
        used_at=datetime.fromisoformat(used_at),
    )
