"""Proto <-> domain conversion for ConsentService."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from zone._proto import consent_pb2
from zone.consent import ConsentRecord, ConsentReport, ConsentUse, TokenRevocation
from zone.consent.terms import from_unix
from zone.errors import InvalidArgument
from zone.products.verification.consents import ConsentRequest

DEFAULT_ROWS = 1000


def _when(stamp: timestamp_pb2.Timestamp, name: str) -> datetime:
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{name}: timestamp out of range", reason="bad_consent") from None


def _stamp(when: datetime | None) -> timestamp_pb2.Timestamp | None:
    if when is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def consent_request(request: consent_pb2.RegisterConsentRequest) -> ConsentRequest:
    """The domain request of a RegisterConsentRequest.

    Raises:
        InvalidArgument: no end of validity, or a timestamp out of range.
    """
    if not request.HasField("not_after"):
        raise InvalidArgument("not_after is required", reason="bad_consent")
    start = _when(request.not_before, "not_before") if request.HasField("not_before") else None
    return ConsentRequest(
        product=request.product,
        subject=request.subject,
        purpose=request.purpose,
        not_before=start,
        not_after=_when(request.not_after, "not_after"),
        max_uses=request.max_uses,
        letter_sha256=request.letter_sha256,
    )


def row_limit(limit: int) -> int:
    """The page size asked for (0: the default)."""
    return limit or DEFAULT_ROWS


def consent(record: ConsentRecord) -> consent_pb2.Consent:
    """Consent message of a record."""
    terms = record.terms
    return consent_pb2.Consent(
        consent=record.label,
        source=record.source,
        principal=terms.principal,
        product=terms.product,
        subject=terms.subject,
        purpose=terms.purpose,
        not_before=_stamp(from_unix(terms.not_before)),
        not_after=_stamp(from_unix(terms.not_after)),
        max_uses=terms.max_uses,
        uses=record.uses,
        letter_sha256=record.letter_sha256 or "",
        token_sha256=record.token_sha256 or "",
        revoked_at=_stamp(record.revoked_at),
        revoke_reason=record.revoke_reason,
        created_at=_stamp(record.created_at),
    )


def _use(use: ConsentUse) -> consent_pb2.ConsentUse:
    return consent_pb2.ConsentUse(
        use_id=use.use_id,
        request_id=use.request_id,
        principal=use.principal,
        product=use.product,
        mode=use.mode,
        subject=use.subject,
        purpose=use.purpose,
        consent=use.consent or "",
        used_at=_stamp(use.used_at),
        release_id=use.release_id,
    )


def consent_uses(uses: Sequence[ConsentUse]) -> consent_pb2.ConsentUses:
    """ConsentUses message."""
    return consent_pb2.ConsentUses(uses=[_use(u) for u in uses])


def token_revocation(revocation: TokenRevocation) -> consent_pb2.ConsentTokenRevocation:
    """ConsentTokenRevocation message."""
    return consent_pb2.ConsentTokenRevocation(
        consent=revocation.label,
        reason=revocation.reason,
        revoked_by=revocation.revoked_by,
        revoked_at=_stamp(revocation.revoked_at),
    )


def report(found: ConsentReport) -> consent_pb2.ConsentReport:
    """ConsentReport message."""
    return consent_pb2.ConsentReport(
        consent=consent(found.record), uses=[_use(u) for u in found.uses]
    )
