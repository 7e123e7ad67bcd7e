"""Revocation of authority-issued consent tokens, registered by an administrator.

A subject who withdraws consent at the consent authority cannot make the operator stop
presenting the signed token it holds: the token stays valid until ``not_after``. The authority
(or the subject) tells the zone's administrator, who lists the token as revoked here, by the
authority's id and the token's consent id. From the commit on, admission refuses the token
(``revoked``) whether or not it was presented before; a token already recorded is also marked
revoked in ``consents`` in the same transaction, so the conditional UPDATE that takes a use
refuses it too. Revocations are never undone (a new consent gets a new id).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from zone.consent.records import split_label
from zone.consent.terms import CONSENT_ID, ISSUER_ID, MAX_PURPOSE_LENGTH
from zone.errors import InvalidArgument
from zone.state.api import Tx


@dataclass(frozen=True)
class TokenRevocation:
    """One revoked token: ``issuer/consent_id``, why, by whom and when (the first revocation)."""

    issuer: str
    consent_id: str
    reason: str
    revoked_by: str
    revoked_at: datetime

    @property
    def label(self) -> str:
        """``issuer/consent_id``, as receipts name the token."""
        return f"{self.issuer}/{self.consent_id}"


def revoke_token(
    conn: Tx, *, consent: str, reason: str, revoked_by: str, now: datetime
) -> TokenRevocation:
    """List the token ``issuer/consent_id`` as revoked (idempotent: the first one is kept).

    Args:
        conn: The caller's open write transaction.
        consent: ``issuer/consent_id`` of an authority's token.
        reason: Why (at most 256 characters).
        revoked_by: The administrator.
        now: The current time.

    Raises:
        InvalidArgument: not ``issuer/id`` of an authority's token, or a reason too long.
    """
    issuer, consent_id = split_label(consent)
    problems = []
    if not is_token_label(consent):
        problems.append("name the token as issuer/consent_id (an authority's id and its id)")
    if len(reason) > MAX_PURPOSE_LENGTH:
        problems.append(f"the reason may have at most {MAX_PURPOSE_LENGTH} characters")
    if problems:
        raise InvalidArgument("; ".join(problems), reason="bad_consent")
    conn.execute(
        "INSERT INTO consent_token_revocations (issuer, consent_id, reason, revoked_by, "
        "revoked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (issuer, consent_id) DO NOTHING",
        (issuer, consent_id, reason, revoked_by, now.isoformat()),
    )
    conn.execute(
        "UPDATE consents SET revoked = 1, revoked_at = ?, revoke_reason = ? "
        "WHERE issuer = ? AND consent_id = ? AND revoked = 0",
        (now.isoformat(), reason, issuer, consent_id),
    )
    row = conn.execute(
        "SELECT reason, revoked_by, revoked_at FROM consent_token_revocations "
        "WHERE issuer = ? AND consent_id = ?",
        (issuer, consent_id),
    ).fetchone()
    return TokenRevocation(issuer, consent_id, row[0], row[1], datetime.fromisoformat(row[2]))


def is_token_label(consent: str) -> bool:
    """Whether ``consent`` reads ``issuer/consent_id`` (an authority's id and a token's id)."""
    issuer, consent_id = split_label(consent)
    return bool(ISSUER_ID.fullmatch(issuer) and CONSENT_ID.fullmatch(consent_id))


def revoked_ids(conn: Tx, issuer: str, consent_ids: Collection[str]) -> set[str]:
    """Which of ``issuer``'s ``consent_ids`` are listed as revoked (one statement)."""
    rows = conn.execute(
        "SELECT consent_id FROM consent_token_revocations WHERE issuer = ? "
        "AND consent_id IN (SELECT value FROM json_each(?))",
        (issuer, json.dumps(sorted(consent_ids))),
    )
    return {row[0] for row in rows}
