"""Shared values and helpers of the consent tests (a real state database, real keys)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from zone.consent import (
    ConsentMode,
    ConsentRecord,
    ConsentScope,
    ConsentTerms,
    SubjectConsent,
    check_and_consume,
    issue_token,
    register,
)
from zone.consent.terms import unix_seconds
from zone.state import StateStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BANK_A = "bank-a"
BANK_B = "bank-b"
PRODUCT = "capital-match"
PURPOSE = "credit-risk assessment"
SUBJECT = "91310000MA1FL0001X"
OTHER_SUBJECT = "91310000MA1FL0002Y"
LETTER = hashlib.sha256(b"signed authorization letter").hexdigest()
AUTHORITY = "gov-consent"


def terms(**changes: Any) -> ConsentTerms:
    base = ConsentTerms(
        principal=BANK_A,
        product=PRODUCT,
        subject=SUBJECT,
        purpose=PURPOSE,
        not_before=unix_seconds(NOW - timedelta(days=1)),
        not_after=unix_seconds(NOW + timedelta(days=30)),
        max_uses=3,
    )
    return replace(base, **changes)


def register_consent(store: StateStore, **changes: Any) -> ConsentRecord:
    fields: dict[str, Any] = {
        "principal": BANK_A,
        "product": PRODUCT,
        "subject": SUBJECT,
        "purpose": PURPOSE,
        "not_before": NOW - timedelta(days=1),
        "not_after": NOW + timedelta(days=30),
        "max_uses": 3,
        "letter_sha256": LETTER,
        "now": NOW,
    }
    fields.update(changes)
    with store.write() as conn:
        return register(conn, **fields)


def token(key: Ed25519PrivateKey, consent_id: str = "gc-0001", **changes: Any) -> str:
    return issue_token(key, issuer=AUTHORITY, consent_id=consent_id, terms=terms(**changes))


def scope(mode: ConsentMode = "operator", **changes: Any) -> ConsentScope:
    base = ConsentScope(BANK_A, PRODUCT, PURPOSE, mode, request_id="req-1")
    return replace(base, **changes)


def consume(
    store: StateStore,
    subjects: Sequence[tuple[str, str | None]],
    *,
    mode: ConsentMode = "operator",
    now: datetime = NOW,
    authorities: Mapping[str, Ed25519PublicKey] | None = None,
    **scope_changes: Any,
) -> list[SubjectConsent]:
    with store.write() as conn:
        return check_and_consume(
            conn, scope(mode, **scope_changes), subjects, now=now, authorities=authorities
        )


def reasons(outcomes: Sequence[SubjectConsent]) -> list[str]:
    return [o.reason for o in outcomes]
