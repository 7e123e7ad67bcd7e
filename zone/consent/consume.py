"""Per-subject consent checks: admit a subject only under a live consent, and use it up.

Guarantee: a consent is never used more often than ``max_uses``, also under concurrent calls
from several threads or processes. Each admitted subject costs one conditional UPDATE
(``SET uses = uses + 1 WHERE ... AND uses < max_uses AND revoked = 0 AND <in scope, in
window>``) run inside the caller's ``BEGIN IMMEDIATE`` write transaction, and its row count
decides; the table's CHECK (``uses <= max_uses``) repeats the bound. With one use left, two
concurrent calls admit exactly one subject. Because uses are counted in the same transaction
as the admission, a call that rolls back (it was refused for another reason, or failed before
anything was released) gives its uses back.

Refusals are per subject, never a failure of the whole call, except for consent tokens that
do not parse (``InvalidArgument``, raised before anything is written). Each outcome keeps the
precise reason for the audit record; :attr:`SubjectConsent.public_reason` is what the caller
may be told: a consent of another operator answers ``unknown``, like an id that does not
exist, so no operator learns about another's consents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.consent.records import OPERATOR_ISSUER, find, record_token, split_label
from zone.consent.terms import (
    CONSENT_ID,
    CONSENT_MODES,
    ConsentMode,
    ConsentReason,
    unix_seconds,
)
from zone.consent.tokens import ConsentToken, MalformedToken, parse_token, verify_token
from zone.errors import InvalidArgument
from zone.state.api import Tx

_CONSUME = (
    "UPDATE consents SET uses = uses + 1 WHERE issuer = ? AND consent_id = ? AND principal = ? "
    "AND product = ? AND purpose = ? AND subject = ? AND not_before <= ? AND not_after >= ? "
    "AND revoked = 0 AND uses < max_uses"
)
_CONSUME_TOKEN = _CONSUME + " AND token_sha256 = ?"
_RECORD_USE = (
    "INSERT INTO consent_uses (request_id, principal, product, mode, subject, purpose, issuer, "
    "consent_id, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class ConsentScope:
    """The call whose subjects are checked.

    Attributes:
        principal: The authenticated caller.
        product: The verification product called.
        purpose: The purpose the call states (must equal the consent's, exactly).
        mode: The product's declared ``consent`` mode.
        request_id: The call's request id (recorded with every use).
    """

    principal: str
    product: str
    purpose: str
    mode: ConsentMode
    request_id: str

    def __post_init__(self) -> None:
        if self.mode not in CONSENT_MODES:
            raise ValueError(f"consent mode must be one of {CONSENT_MODES}, not {self.mode!r}")


@dataclass(frozen=True)
class SubjectConsent:
    """The consent outcome of one subject.

    Attributes:
        subject: The subject key, as requested.
        reason: ``ok``, or the precise reason it was refused (for the audit record).
        consent: The consent used (``id`` or ``issuer/id``); None when refused or when the
            product needs no consent.
    """

    subject: str
    reason: ConsentReason
    consent: str | None = None

    @property
    def admitted(self) -> bool:
        """Whether the subject may be checked."""
        return self.reason == "ok"

    @property
    def public_reason(self) -> ConsentReason:
        """The reason the caller is told: another operator's consent reads as ``unknown``."""
        return "unknown" if self.reason == "wrong_principal" else self.reason


def check_and_consume(
    conn: Tx,
    scope: ConsentScope,
    subjects: Sequence[tuple[str, str | None]],
    *,
    now: datetime,
    authorities: Mapping[str, Ed25519PublicKey] | None = None,
) -> list[SubjectConsent]:
    """Check each subject's consent and use one use of each admitted subject's consent.

    Call it inside the write transaction that admits the call (``with store.write() as
    conn``), so uses commit or roll back with the admission. Admitted subjects are recorded
    in ``consent_uses`` (with no consent when the product's mode is ``none``).

    Args:
        conn: The caller's open write transaction.
        scope: Who calls which product, for what purpose, under which consent mode.
        subjects: ``(subject key, consent reference)`` in request order. The reference is a
            registered consent id (mode ``operator``) or a token text (mode ``issuer``);
            None or ``""`` when the caller named none. Ignored in mode ``none``.
        now: The time of the call (aware).
        authorities: Public key of each consent authority by id (mode ``issuer``).

    Returns:
        One outcome per subject, in request order.

    Raises:
        InvalidArgument: a consent token does not parse (the message says which; nothing
            is written).
        RuntimeError: ``conn`` has no open transaction.
        ValueError: ``now`` is naive.
    """
    if not conn.in_transaction:
        raise RuntimeError("check_and_consume needs the connection of an open store.write()")
    at = unix_seconds(now)
    if scope.mode == "none":
        outcomes = [SubjectConsent(subject, "ok") for subject, _ in subjects]
    elif scope.mode == "operator":
        outcomes = [_use_record(conn, scope, s, ref or "", at) for s, ref in subjects]
    else:
        tokens = _parse_all(subjects)
        keys = {} if authorities is None else authorities
        outcomes = [
            _use_token(conn, scope, s, token, keys, now)
            for (s, _), token in zip(subjects, tokens, strict=True)
        ]
    _record_uses(conn, scope, outcomes, now)
    return outcomes


def receipt_fields(outcomes: Sequence[SubjectConsent]) -> dict[str, Any]:
    """What a receipt or audit record says about consent: consents used, refusals by reason.

    Reasons are the precise ones (the audit record is for the zone, not the caller).
    """
    refused: dict[str, int] = {}
    for outcome in outcomes:
        if not outcome.admitted:
            refused[outcome.reason] = refused.get(outcome.reason, 0) + 1
    used = sorted({o.consent for o in outcomes if o.consent is not None})
    return {"consents": used, "consent_refusals": dict(sorted(refused.items()))}


def _parse_all(subjects: Sequence[tuple[str, str | None]]) -> list[ConsentToken | None]:
    tokens: list[ConsentToken | None] = []
    for position, (_, ref) in enumerate(subjects):
        try:
            tokens.append(parse_token(ref) if ref else None)
        except MalformedToken as exc:
            raise InvalidArgument(f"subject {position}: {exc.message}", reason=exc.reason) from exc
    return tokens


def _use_record(
    conn: Tx, scope: ConsentScope, subject: str, consent_id: str, at: int
) -> SubjectConsent:
    if not consent_id:
        return SubjectConsent(subject, "no_consent")
    if not CONSENT_ID.fullmatch(consent_id):
        return SubjectConsent(subject, "unknown")
    key = (OPERATOR_ISSUER, consent_id)
    if _consume(conn, _CONSUME, key, scope, subject, at, ()):
        return SubjectConsent(subject, "ok", consent_id)
    record = find(conn, *key)
    if record is None:
        return SubjectConsent(subject, "unknown")
    reason = record.terms.mismatch(
        principal=scope.principal,
        product=scope.product,
        purpose=scope.purpose,
        subject=subject,
        now=at,
    )
    if reason is None:
        reason = "revoked" if record.revoked_at is not None else "used_up"
    return SubjectConsent(subject, reason)


def _use_token(
    conn: Tx,
    scope: ConsentScope,
    subject: str,
    token: ConsentToken | None,
    authorities: Mapping[str, Ed25519PublicKey],
    now: datetime,
) -> SubjectConsent:
    if token is None:
        return SubjectConsent(subject, "no_consent")
    verified = verify_token(token, authorities)
    if verified != "ok":
        return SubjectConsent(subject, verified)
    at = unix_seconds(now)
    reason = token.terms.mismatch(
        principal=scope.principal,
        product=scope.product,
        purpose=scope.purpose,
        subject=subject,
        now=at,
    )
    if reason is not None:
        return SubjectConsent(subject, reason)
    key = (token.issuer, token.consent_id)
    record_token(
        conn,
        issuer=token.issuer,
        consent_id=token.consent_id,
        terms=token.terms,
        token_sha256=token.digest,
        now=now,
    )
    if _consume(conn, _CONSUME_TOKEN, key, scope, subject, at, (token.digest,)):
        return SubjectConsent(subject, "ok", token.label)
    record = find(conn, *key)
    if record is None or record.token_sha256 != token.digest:
        # The authority signed two different tokens under one id: the first one used holds.
        return SubjectConsent(subject, "conflicting_token")
    return SubjectConsent(subject, "revoked" if record.revoked_at is not None else "used_up")


def _consume(
    conn: Tx,
    statement: str,
    key: tuple[str, str],
    scope: ConsentScope,
    subject: str,
    at: int,
    extra: tuple[str, ...],
) -> bool:
    params = (*key, scope.principal, scope.product, scope.purpose, subject, at, at, *extra)
    return conn.execute(statement, params).rowcount == 1


def _record_uses(
    conn: Tx,
    scope: ConsentScope,
    outcomes: Sequence[SubjectConsent],
    now: datetime,
) -> None:
    when = now.isoformat()
    rows = []
    for outcome in outcomes:
        if not outcome.admitted:
            continue
        issuer, consent_id = _key_of(outcome.consent)
        rows.append(
            (
                scope.request_id,
                scope.principal,
                scope.product,
                scope.mode,
                outcome.subject,
                scope.purpose,
                issuer,
                consent_id,
                when,
            )
        )
    conn.executemany(_RECORD_USE, rows)


def _key_of(label: str | None) -> tuple[str | None, str | None]:
    if label is None:
        return None, None
    return split_label(label)
