"""The admin view of consent: checks made without consent, and what one consent was used for.

Both read ``consent_calls``, one row per admitted call, written in the same transaction as the
call's consent uses, so they see exactly the checks that committed. A row lists the subjects
the call admitted and the consent each one used; the view returns one :class:`ConsentUse` per
subject check. Its ``use_id`` is ``call_id * 2**20 + position`` (a call admits at most 65,536
subjects), which orders uses as they were made and lets a listing resume after any of them.
Run them in ``StateStore.read()``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zone.consent.records import ConsentRecord, find, split_label
from zone.consent.terms import ConsentMode
from zone.errors import InvalidArgument, NotFound
from zone.state.api import Tx

MAX_ROWS = 10_000
USE_ID_BITS = 20
"""``use_id`` is ``call_id << USE_ID_BITS | position`` of the subject in its call."""
_CALL_COLUMNS = (
    "call_id, request_id, release_id, principal, product, mode, purpose, used_at, subjects, "
    "consents"
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
    release_id: str = ""

    def describe(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "request_id": self.request_id,
            "release_id": self.release_id,
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

    Must be empty. Checks without consent are recorded only for products declared ``consent:
    none``, so rows appear only for checks made while a product was declared so and that now
    requires consent (the catalog changed), which an administrator may want to review.

    Args:
        conn: A read (or write) connection.
        requiring: Ids of the products whose declared consent mode is not ``none`` now.
        after_use: Return checks after this ``use_id`` (pagination).
        limit: At most this many checks (1 to 10,000).

    Returns:
        The checks, in the order they were made.

    Raises:
        InvalidArgument: ``limit`` is out of range.
    """
    _check_limit(limit)
    # Each call admitted at least one subject: limit + 1 calls hold limit checks after the cursor.
    rows = conn.execute(
        f"SELECT {_CALL_COLUMNS} FROM consent_calls WHERE mode = 'none' "
        "AND product IN (SELECT value FROM json_each(?)) AND call_id >= ? "
        "ORDER BY call_id LIMIT ?",
        (json.dumps(sorted(requiring)), max(after_use, 0) >> USE_ID_BITS, limit + 1),
    ).fetchall()
    found: list[ConsentUse] = []
    for use in (use for row in rows for use in _uses(row)):
        if use.use_id > after_use:
            found.append(use)
            if len(found) == limit:
                break
    return found


def consent_report(conn: Tx, consent: str, *, limit: int = 1000) -> ConsentReport:
    """What consent ``consent`` (``id`` or ``issuer/id``) authorized and how it was used.

    The calls it can have admitted are those of its principal, product and purpose within its
    validity; of those, the checks that name it are its uses.

    Raises:
        NotFound: no such consent (an authority token appears once it has been presented).
        InvalidArgument: ``limit`` is out of range.
    """
    _check_limit(limit)
    issuer, consent_id = split_label(consent)
    record = find(conn, issuer, consent_id)
    if record is None:
        raise NotFound("no such consent", reason="unknown_consent")
    terms, label = record.terms, record.label
    rows = conn.execute(
        f"SELECT {_CALL_COLUMNS} FROM consent_calls WHERE principal = ? AND product = ? "
        "AND used_at >= ? AND used_at < ? AND purpose = ? AND mode <> 'none' "
        "AND consents LIKE ? ORDER BY call_id",
        (
            terms.principal,
            terms.product,
            terms.not_before,
            terms.not_after + 1,
            terms.purpose,
            f'%"{label}"%',  # a superset (LIKE's '_'; SQLite ignores case): filtered exactly below
        ),
    )
    uses: list[ConsentUse] = []
    for row in rows:
        uses.extend(use for use in _uses(row) if use.consent == label)
        if len(uses) >= limit:
            break
    return ConsentReport(record, tuple(uses[:limit]))


def _check_limit(limit: int) -> None:
    if not 0 < limit <= MAX_ROWS:
        raise InvalidArgument(f"limit must be from 1 to {MAX_ROWS}")


def _uses(row: tuple[Any, ...]) -> Iterator[ConsentUse]:
    call_id, request_id, release_id, principal, product, mode, purpose, at, subjects, cs = row
    consents: list[str | None] = json.loads(cs) or []
    subject_list = str(subjects).split("\n")
    if mode == "none":
        consents = [None] * len(subject_list)
    used_at = datetime.fromtimestamp(float(at), UTC)
    for position, (subject, consent) in enumerate(zip(subject_list, consents, strict=True)):
        yield ConsentUse(
            use_id=(int(call_id) << USE_ID_BITS) | position,
            request_id=request_id,
            principal=principal,
            product=product,
            mode=mode,
            subject=subject,
            purpose=purpose,
            consent=consent,
            used_at=used_at,
            release_id=release_id,
        )
