"""Consent records in the state database: operators register and revoke; tokens are recorded.

Every function takes the connection of the caller's open transaction (``StateStore.write()``
for writes, ``StateStore.read()`` for reads), so a registration or revocation commits together
with its audit record. An operator sees only its own records: another operator's consent id
answers exactly like an id that does not exist.

The caller checks, before registering, that the principal holds a grant for the product and
that the product declares ``consent: operator``; these functions know no policies.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from zone.consent.terms import (
    CONSENT_ID,
    MAX_PURPOSE_LENGTH,
    SHA256_HEX,
    ConsentTerms,
    from_unix,
    unix_seconds,
)
from zone.consent.tokens import ConsentToken
from zone.errors import InvalidArgument, NotFound
from zone.state.api import Tx

OPERATOR_ISSUER = ""
"""The ``issuer`` column of records an operator registered."""

_COLUMNS = (
    "issuer, consent_id, principal, product, subject, purpose, not_before, not_after, "
    "max_uses, uses, letter_sha256, token_sha256, revoked, revoked_at, revoke_reason, created_at"
)
_NOT_FOUND = "no such consent"


@dataclass(frozen=True)
class ConsentRecord:
    """One consent as stored.

    Attributes:
        issuer: The consent authority's id; ``""`` for a record an operator registered.
        consent_id: The id within its issuer.
        terms: What it authorizes.
        uses: Subject checks admitted under it so far.
        letter_sha256: SHA-256 (hex) of the signed authorization letter (operator records).
        token_sha256: SHA-256 (hex) of the token text (authority tokens).
        revoked_at: When it was revoked, or None.
        revoke_reason: Why, as given by the operator.
        created_at: When the zone recorded it.
    """

    issuer: str
    consent_id: str
    terms: ConsentTerms
    uses: int
    letter_sha256: str | None
    token_sha256: str | None
    revoked_at: datetime | None
    revoke_reason: str
    created_at: datetime

    @property
    def label(self) -> str:
        """How receipts and the admin view name it: ``consent_id`` or ``issuer/consent_id``."""
        return consent_label(self.issuer, self.consent_id)

    @property
    def source(self) -> Literal["operator", "issuer"]:
        """Who vouches for it: the operator (a letter it keeps) or an authority (a token)."""
        return "operator" if self.issuer == OPERATOR_ISSUER else "issuer"

    @property
    def uses_left(self) -> int:
        """Checks it still allows (0 when revoked)."""
        return 0 if self.revoked_at is not None else self.terms.max_uses - self.uses

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (for audit records and the admin view)."""
        t = self.terms
        return {
            "consent": self.label,
            "source": self.source,
            "principal": t.principal,
            "product": t.product,
            "subject": t.subject,
            "purpose": t.purpose,
            "not_before": from_unix(t.not_before).isoformat(),
            "not_after": from_unix(t.not_after).isoformat(),
            "max_uses": t.max_uses,
            "uses": self.uses,
            "letter_sha256": self.letter_sha256,
            "token_sha256": self.token_sha256,
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "revoke_reason": self.revoke_reason,
            "created_at": self.created_at.isoformat(),
        }


def consent_label(issuer: str, consent_id: str) -> str:
    """``consent_id`` for operator records, ``issuer/consent_id`` for authority tokens."""
    return consent_id if issuer == OPERATOR_ISSUER else f"{issuer}/{consent_id}"


def split_label(label: str) -> tuple[str, str]:
    """Inverse of :func:`consent_label`: ``(issuer, consent_id)``."""
    issuer, _, consent_id = label.rpartition("/")
    return issuer, consent_id


def new_consent_id() -> str:
    """A fresh, unguessable id for an operator's record (``c-`` and 32 hex digits)."""
    return "c-" + secrets.token_hex(16)


def register(
    conn: Tx,
    *,
    principal: str,
    product: str,
    subject: str,
    purpose: str,
    not_before: datetime,
    not_after: datetime,
    max_uses: int,
    letter_sha256: str,
    now: datetime,
) -> ConsentRecord:
    """Record a consent that ``principal`` collected itself (a signed authorization letter).

    Args:
        conn: The caller's open write transaction.
        principal: The registering operator; only it may use the consent.
        product: The verification product the subject agreed to be checked with.
        subject: The subject's key in the product's dataset.
        purpose: The purpose the subject agreed to (calls must state exactly this).
        not_before: Start of validity (aware datetime, whole seconds, inclusive).
        not_after: End of validity (inclusive); must not be in the past.
        max_uses: How many subject checks it allows.
        letter_sha256: SHA-256 (64 hex digits) of the signed letter the operator keeps.
        now: The current time.

    Returns:
        The new record, with a fresh id.

    Raises:
        InvalidArgument: with every problem of the fields at once.
    """
    problems: list[str] = []
    start = _seconds(not_before, "not_before", problems)
    end = _seconds(not_after, "not_after", problems)
    # A bound reported already stands in for itself with the other, to cause no second problem.
    start, end = (end if start is None else start), (start if end is None else end)
    terms = ConsentTerms(principal, product, subject, purpose, start or 0, end or 0, max_uses)
    problems += terms.problems()
    digest = letter_sha256.lower() if isinstance(letter_sha256, str) else ""
    if not SHA256_HEX.fullmatch(digest):
        problems.append("letter_sha256 must be the SHA-256 of the letter in 64 hex digits")
    if end is not None and end < unix_seconds(now):
        problems.append("not_after is in the past")
    if problems:
        raise InvalidArgument("invalid consent: " + "; ".join(problems), reason="bad_consent")
    consent_id = new_consent_id()
    conn.execute(
        f"INSERT INTO consents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, 0, "
        "NULL, '', ?)",
        (OPERATOR_ISSUER, consent_id, *_terms_row(terms), digest, now.isoformat()),
    )
    return _get(conn, OPERATOR_ISSUER, consent_id)


def record_tokens(conn: Tx, tokens: Sequence[ConsentToken], *, now: datetime) -> None:
    """Record verified authority tokens on first use, in one statement (known ones stay)."""
    conn.executemany(
        f"INSERT INTO consents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, 0, "
        "NULL, '', ?) ON CONFLICT (issuer, consent_id) DO NOTHING",
        [(t.issuer, t.consent_id, *_terms_row(t.terms), t.digest, now.isoformat()) for t in tokens],
    )


def revoke(
    conn: Tx, *, principal: str, consent_id: str, now: datetime, reason: str = ""
) -> ConsentRecord:
    """Revoke ``principal``'s own record (idempotent: the first revocation's time is kept).

    Checks in flight commit before or after the revocation (one write transaction at a time),
    never half-way; after this returns, no check can use the consent.

    Raises:
        NotFound: no record with this id belongs to ``principal``.
        InvalidArgument: ``reason`` is longer than 256 characters.
    """
    if len(reason) > MAX_PURPOSE_LENGTH:
        raise InvalidArgument(f"the reason may have at most {MAX_PURPOSE_LENGTH} characters")
    get(conn, principal=principal, consent_id=consent_id)
    conn.execute(
        "UPDATE consents SET revoked = 1, revoked_at = ?, revoke_reason = ? "
        "WHERE issuer = ? AND consent_id = ? AND principal = ? AND revoked = 0",
        (now.isoformat(), reason, OPERATOR_ISSUER, consent_id, principal),
    )
    return _get(conn, OPERATOR_ISSUER, consent_id)


def get(conn: Tx, *, principal: str, consent_id: str) -> ConsentRecord:
    """``principal``'s own registered record ``consent_id``.

    Raises:
        NotFound: no record with this id belongs to ``principal`` (another operator's id
            answers the same way).
    """
    found = find(conn, OPERATOR_ISSUER, consent_id) if CONSENT_ID.fullmatch(consent_id) else None
    if found is None or found.terms.principal != principal:
        raise NotFound(_NOT_FOUND, reason="unknown_consent")
    return found


def list_own(
    conn: Tx,
    *,
    principal: str,
    product: str = "",
    subject: str = "",
    after: str = "",
    limit: int = 1000,
) -> list[ConsentRecord]:
    """``principal``'s registered records by id, optionally of one product and subject.

    Args:
        conn: A read (or write) connection.
        principal: The operator whose records are listed (never another's).
        product: Only this product's (empty: all).
        subject: Only this subject's (empty: all).
        after: Only ids that sort after this one (pagination).
        limit: At most this many (1 to 10,000).

    Raises:
        InvalidArgument: ``limit`` out of range, or a filter longer than any id or key.
    """
    problems = [
        f"{name} may have at most {most} characters"
        for name, value, most in (
            ("product", product, 64),
            ("subject", subject, 256),
            ("after_consent", after, 64),
        )  # fmt: skip
        if len(value) > most
    ]
    if not 0 < limit <= 10_000:
        problems.append("limit must be from 1 to 10000")
    if problems:
        raise InvalidArgument("; ".join(problems), reason="bad_request")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM consents WHERE issuer = ? AND principal = ? "
        "AND (? = '' OR product = ?) AND (? = '' OR subject = ?) AND consent_id > ? "
        "ORDER BY consent_id LIMIT ?",
        (OPERATOR_ISSUER, principal, product, product, subject, subject, after, limit),
    ).fetchall()
    return [_record(row) for row in rows]


def find(conn: Tx, issuer: str, consent_id: str) -> ConsentRecord | None:
    """Any stored consent by issuer and id (for the zone itself and admins), or None."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM consents WHERE issuer = ? AND consent_id = ?",
        (issuer, consent_id),
    ).fetchone()
    return None if row is None else _record(row)


def find_many(conn: Tx, issuer: str, consent_ids: Collection[str]) -> dict[str, ConsentRecord]:
    """The stored consents of ``issuer`` among ``consent_ids``, by id (one statement)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM consents WHERE issuer = ? "
        "AND consent_id IN (SELECT value FROM json_each(?))",
        (issuer, json.dumps(sorted(consent_ids))),
    ).fetchall()
    return {row[1]: _record(row) for row in rows}


def _get(conn: Tx, issuer: str, consent_id: str) -> ConsentRecord:
    record = find(conn, issuer, consent_id)
    if record is None:
        raise NotFound(_NOT_FOUND, reason="unknown_consent")
    return record


def _seconds(when: object, name: str, problems: list[str]) -> int | None:
    if not isinstance(when, datetime):
        problems.append(f"{name} must be a datetime")
        return None
    try:
        return unix_seconds(when)
    except (ValueError, OverflowError, OSError):
        problems.append(f"{name} must be an aware datetime (UTC)")
        return None


def _terms_row(terms: ConsentTerms) -> tuple[object, ...]:
    return (
        terms.principal,
        terms.product,
        terms.subject,
        terms.purpose,
        terms.not_before,
        terms.not_after,
        terms.max_uses,
    )


def _record(row: tuple[Any, ...]) -> ConsentRecord:
    issuer, consent_id, *terms, uses, letter, token, _revoked, revoked_at, reason, created = row
    return ConsentRecord(
        issuer=issuer,
        consent_id=consent_id,
        terms=ConsentTerms(*terms),
        uses=uses,
        letter_sha256=letter,
        token_sha256=token,
        revoked_at=None if revoked_at is None else datetime.fromisoformat(revoked_at),
        revoke_reason=reason,
        created_at=datetime.fromisoformat(created),
    )
