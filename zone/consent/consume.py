"""Per-subject consent checks: admit a subject only under a live consent, and use it up.

Guarantee: a consent is never used more often than ``max_uses``, also under concurrent calls
from several threads or processes. A call's consents are taken together, in the caller's
write transaction (``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL every write transaction holds
the zone's write lock, and the UPDATE locks its rows): one conditional ``UPDATE consents SET
uses = uses + 1 WHERE issuer = ? AND consent_id IN (...) AND consent_id|subject|token digest
IN (...) AND <principal, product, purpose, in window> AND revoked = 0 AND uses < max_uses
RETURNING consent_id`` per issuer takes one use of each consent named, and the ids it returns
are the subjects admitted. Every condition is decided by that statement, row by row, so with
one use left two concurrent calls admit exactly one; the table's CHECK (``uses <= max_uses``)
repeats the bound. Only the consents it refused are read, to say why. A consent named twice
in one call takes its second use by a conditional UPDATE of its own. Because uses are
counted in the same transaction as the admission, a call that rolls back (refused for another
reason, or failed before anything was released) gives its uses back.

The call's use is recorded once, in ``consent_calls``: the admitted subjects and the consent
each used, with the request and release ids (the admin view reads it).

Refusals are per subject, never a failure of the whole call, except for consent tokens that
do not parse (``InvalidArgument``, raised before anything is written). Each outcome keeps the
precise reason for the audit record; :attr:`SubjectConsent.public_reason` is what the caller
may be told: a consent of another operator answers ``unknown``, like an id that does not
exist, so no operator learns about another's consents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.consent.outcomes import ConsentOutcomes, SubjectConsent
from zone.consent.records import (
    OPERATOR_ISSUER,
    ConsentRecord,
    consent_label,
    find_many,
    record_tokens,
)
from zone.consent.revocations import revoked_ids
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

# `principal || ''`: keeps SQLite's planner on the primary key (consent_id IN ...) instead of
# scanning every consent of the principal through consents_by_principal.
_IN_SCOPE = (
    "AND principal || '' = ? AND product = ? AND purpose = ? AND not_before <= ? "
    "AND not_after >= ? AND revoked = 0 AND uses < max_uses"
)
_KEY = "consent_id || '|' || subject || '|' || coalesce(token_sha256, '')"
_TAKE_ALL = (
    "UPDATE consents SET uses = uses + 1 WHERE issuer = ? "
    f"AND consent_id IN (SELECT value FROM json_each(?)) AND {_KEY} IN "
    f"(SELECT value FROM json_each(?)) {_IN_SCOPE} RETURNING consent_id"
)
_TAKE_ONE = (
    f"UPDATE consents SET uses = uses + 1 WHERE issuer = ? AND consent_id = ? AND {_KEY} = ? "
    f"{_IN_SCOPE}"
)
_RECORD_CALL = (
    "INSERT INTO consent_calls (request_id, release_id, principal, product, mode, purpose, "
    "used_at, subject_count, subjects, consents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class ConsentScope:
    """The call whose subjects are checked.

    Attributes:
        principal: The authenticated caller.
        product: The verification product called.
        purpose: The purpose the call states (must equal the consent's, exactly).
        mode: The product's declared ``consent`` mode.
        request_id: The call's request id (recorded with the call's use).
        release_id: The id of the release the call makes (recorded with the call's use).
    """

    principal: str
    product: str
    purpose: str
    mode: ConsentMode
    request_id: str
    release_id: str = ""

    def __post_init__(self) -> None:
        if self.mode not in CONSENT_MODES:
            raise ValueError(f"consent mode must be one of {CONSENT_MODES}, not {self.mode!r}")


@dataclass
class _Tally:
    """The outcomes being decided: per subject its key, reason and consent label."""

    subjects: Sequence[str]
    reasons: list[ConsentReason]
    labels: list[str | None]

    def admit(self, claim: _Claim) -> None:
        self.reasons[claim.position] = "ok"
        self.labels[claim.position] = consent_label(claim.issuer, claim.consent_id)


class _Claim(NamedTuple):
    """A subject whose consent passed every check that needs no use: it asks for one."""

    position: int
    issuer: str
    consent_id: str
    token_sha256: str | None


def check_and_consume(
    conn: Tx,
    scope: ConsentScope,
    subjects: Sequence[tuple[str, str | None]],
    *,
    now: datetime,
    authorities: Mapping[str, Ed25519PublicKey] | None = None,
) -> ConsentOutcomes:
    """Check each subject's consent and use one use of each admitted subject's consent.

    Call it inside the write transaction that admits the call (``with store.write() as
    conn``), so uses commit or roll back with the admission. A call with admitted subjects
    gets one ``consent_calls`` row (with no consents when the product's mode is ``none``).

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
    keys = [subject for subject, _ in subjects]
    labels: list[str | None] = [None] * len(keys)
    if scope.mode == "none":
        reasons: list[ConsentReason] = ["ok"] * len(keys)
    else:
        reasons = ["no_consent"] * len(keys)
        if scope.mode == "operator":
            claims = _operator_claims(subjects, reasons)
        else:
            found = {} if authorities is None else authorities
            claims = _token_claims(conn, scope, subjects, reasons, found, now)
        _take(conn, scope, claims, _Tally(keys, reasons, labels), at)
    outcomes = ConsentOutcomes(keys, reasons, labels)
    _record_call(conn, scope, outcomes, now)
    return outcomes


def receipt_fields(outcomes: Sequence[SubjectConsent]) -> dict[str, Any]:
    """What a receipt or audit record says about consent: consents used, refusals by reason.

    Reasons are the precise ones (the audit record is for the zone, not the caller).
    """
    if isinstance(outcomes, ConsentOutcomes):
        return outcomes.receipt_fields()
    return ConsentOutcomes(
        [o.subject for o in outcomes], [o.reason for o in outcomes], [o.consent for o in outcomes]
    ).receipt_fields()


def _operator_claims(
    subjects: Sequence[tuple[str, str | None]], reasons: list[ConsentReason]
) -> list[_Claim]:
    claims = []
    for position, (_, ref) in enumerate(subjects):
        if not ref:
            continue
        if CONSENT_ID.fullmatch(ref):
            claims.append(_Claim(position, OPERATOR_ISSUER, ref, None))
        else:
            reasons[position] = "unknown"
    return claims


def _token_claims(
    conn: Tx,
    scope: ConsentScope,
    subjects: Sequence[tuple[str, str | None]],
    reasons: list[ConsentReason],
    authorities: Mapping[str, Ed25519PublicKey],
    now: datetime,
) -> list[_Claim]:
    """Verify each token and its terms; record the valid ones on first use (no use taken)."""
    at = unix_seconds(now)
    valid: list[tuple[int, ConsentToken]] = []
    for position, ((subject, _), token) in enumerate(
        zip(subjects, _parse_all(subjects), strict=True)
    ):
        if token is None:
            continue
        reason: ConsentReason = verify_token(token, authorities)
        if reason == "ok":
            reason = (
                token.terms.mismatch(
                    principal=scope.principal,
                    product=scope.product,
                    purpose=scope.purpose,
                    subject=subject,
                    now=at,
                )
                or "ok"
            )
        if reason == "ok":
            valid.append((position, token))
        else:
            reasons[position] = reason
    valid = _not_revoked(conn, valid, reasons)
    record_tokens(conn, [token for _, token in valid], now=now)
    return [_Claim(p, t.issuer, t.consent_id, t.digest) for p, t in valid]


def _not_revoked(
    conn: Tx, valid: list[tuple[int, ConsentToken]], reasons: list[ConsentReason]
) -> list[tuple[int, ConsentToken]]:
    """Drop the tokens an administrator revoked for their authority (refused ``revoked``)."""
    revoked: set[tuple[str, str]] = set()
    for issuer in {t.issuer for _, t in valid}:
        ids = {t.consent_id for _, t in valid if t.issuer == issuer}
        revoked.update((issuer, i) for i in revoked_ids(conn, issuer, ids))
    kept = []
    for position, token in valid:
        if (token.issuer, token.consent_id) in revoked:
            reasons[position] = "revoked"
        else:
            kept.append((position, token))
    return kept


def _parse_all(subjects: Sequence[tuple[str, str | None]]) -> list[ConsentToken | None]:
    tokens: list[ConsentToken | None] = []
    for position, (_, ref) in enumerate(subjects):
        try:
            tokens.append(parse_token(ref) if ref else None)
        except MalformedToken as exc:
            raise InvalidArgument(f"subject {position}: {exc.message}", reason=exc.reason) from exc
    return tokens


def _take(
    conn: Tx,
    scope: ConsentScope,
    claims: Sequence[_Claim],
    tally: _Tally,
    at: int,
) -> None:
    """Take one use per claim: the first claim of each consent together, the rest one by one.

    The set UPDATE checks each consent's subject (and token digest) through a key
    ``consent_id|subject|digest`` (ids cannot hold ``|``); only the consents it refuses are
    read, to say why.
    """
    by_issuer: dict[str, list[_Claim]] = {}
    for claim in claims:
        by_issuer.setdefault(claim.issuer, []).append(claim)
    scope_params = (scope.principal, scope.product, scope.purpose, at, at)
    for issuer, group in by_issuer.items():
        first: dict[str, _Claim] = {}
        again: list[_Claim] = []
        for claim in group:
            if claim.consent_id in first:
                again.append(claim)
            else:
                first[claim.consent_id] = claim
        ids = json.dumps(list(first))
        keys = json.dumps([_key(c, tally) for c in first.values()])
        taken = {row[0] for row in conn.execute(_TAKE_ALL, (issuer, ids, keys, *scope_params))}
        refused = []
        for claim in first.values():
            if claim.consent_id in taken:
                tally.admit(claim)
            else:
                refused.append(claim)
        for claim in again:
            params = (issuer, claim.consent_id, _key(claim, tally), *scope_params)
            if conn.execute(_TAKE_ONE, params).rowcount == 1:
                tally.admit(claim)
            else:
                refused.append(claim)
        _explain(conn, scope, issuer, refused, tally, at)


def _key(claim: _Claim, tally: _Tally) -> str:
    return f"{claim.consent_id}|{tally.subjects[claim.position]}|{claim.token_sha256 or ''}"


def _explain(
    conn: Tx,
    scope: ConsentScope,
    issuer: str,
    refused: Sequence[_Claim],
    tally: _Tally,
    at: int,
) -> None:
    """Say why each refused claim was refused, from its consent as stored now."""
    if not refused:
        return
    records = find_many(conn, issuer, {c.consent_id for c in refused})
    for claim in refused:
        tally.reasons[claim.position] = _reason(
            records.get(claim.consent_id), claim, scope, tally, at
        )


def _reason(
    record: ConsentRecord | None, claim: _Claim, scope: ConsentScope, tally: _Tally, at: int
) -> ConsentReason:
    if record is None:
        return "unknown"
    if claim.token_sha256 is not None and record.token_sha256 != claim.token_sha256:
        # The authority signed two different tokens under one id: the first one used holds.
        return "conflicting_token"
    mismatch = record.terms.mismatch(
        principal=scope.principal,
        product=scope.product,
        purpose=scope.purpose,
        subject=tally.subjects[claim.position],
        now=at,
    )
    if mismatch is not None:
        return mismatch
    return "revoked" if record.revoked_at is not None else "used_up"


def _record_call(conn: Tx, scope: ConsentScope, outcomes: ConsentOutcomes, now: datetime) -> None:
    admitted = outcomes.admitted_subjects
    if not admitted:
        return
    consents = [] if scope.mode == "none" else outcomes.admitted_consents
    conn.execute(
        _RECORD_CALL,
        (
            scope.request_id,
            scope.release_id,
            scope.principal,
            scope.product,
            scope.mode,
            scope.purpose,
            now.timestamp(),
            len(admitted),
            "\n".join(admitted),
            json.dumps(consents, separators=(",", ":")),
        ),
    )
