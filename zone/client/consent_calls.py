"""The SDK's consent calls: operators register, revoke and look up consents; admins review.

A subject's consent is named in each Match or Score call (``consents=``, aligned with the
subjects): the id :meth:`ConsentCalls.register_consent` returned (products declared ``consent:
operator``), or the text of a token a consent authority signed (``consent: issuer``; read
them with :func:`read_tokens`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2

from zone._proto import consent_pb2, consent_pb2_grpc

T = TypeVar("T")


@dataclass(frozen=True)
class ConsentInfo:
    """A consent as the zone holds it (``revoked_at`` None while in force)."""

    consent: str
    source: str
    principal: str
    product: str
    subject: str
    purpose: str
    not_before: datetime
    not_after: datetime
    max_uses: int
    uses: int
    letter_sha256: str
    token_sha256: str
    revoked_at: datetime | None
    revoke_reason: str


@dataclass(frozen=True)
class ConsentUseRow:
    """One subject check a consent admitted (``consent`` empty where none was needed)."""

    use_id: int
    request_id: str
    principal: str
    product: str
    mode: str
    subject: str
    purpose: str
    consent: str
    used_at: datetime
    release_id: str = ""


def letter_digest(path: Path) -> str:
    """SHA-256 (hex) of a signed authorization letter, as ``register_consent`` wants it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_tokens(path: Path) -> dict[str, str]:
    """Consent tokens from a file, one per line, by the subject each names.

    The subject is read from the token's payload, unverified (the zone verifies it). Blank
    lines and ``#`` comments are skipped.

    Raises:
        ValueError: a line is not a token, or two tokens name the same subject.
    """
    import base64
    import json

    tokens: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            payload = text.split(".")[0]
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            subject = str(data["subject"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}:{number}: not a consent token") from None
        if subject in tokens:
            raise ValueError(f"{path}:{number}: a second token for subject {subject!r}")
        tokens[subject] = text
    return tokens


def _time(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _stamp(when: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def _info(c: consent_pb2.Consent) -> ConsentInfo:
    return ConsentInfo(
        c.consent,
        c.source,
        c.principal,
        c.product,
        c.subject,
        c.purpose,
        _time(c.not_before),
        _time(c.not_after),
        c.max_uses,
        c.uses,
        c.letter_sha256,
        c.token_sha256,
        _time(c.revoked_at) if c.HasField("revoked_at") else None,
        c.revoke_reason,
    )


def _use(u: consent_pb2.ConsentUse) -> ConsentUseRow:
    return ConsentUseRow(
        u.use_id,
        u.request_id,
        u.principal,
        u.product,
        u.mode,
        u.subject,
        u.purpose,
        u.consent,
        _time(u.used_at),
        u.release_id,
    )


class ConsentCalls:
    """Consent calls of :class:`~zone.client.client.ZoneClient` (mixed into it)."""

    _consent: consent_pb2_grpc.ConsentServiceStub

    def _call(self, method: Callable[..., T], request: Any) -> T:
        raise NotImplementedError  # provided by ZoneClient

    def register_consent(
        self,
        product: str,
        subject: str,
        *,
        purpose: str,
        not_after: datetime,
        letter_sha256: str,
        max_uses: int = 1,
        not_before: datetime | None = None,
    ) -> ConsentInfo:
        """Register a consent the subject gave (operator); its ``consent`` id goes in calls.

        ``purpose`` is what the subject agreed to: calls must state exactly this text.
        ``letter_sha256`` is the digest of the signed letter you keep (:func:`letter_digest`).
        Times are aware datetimes, inclusive, whole seconds.
        """
        request = consent_pb2.RegisterConsentRequest(
            product=product,
            subject=subject,
            purpose=purpose,
            not_after=_stamp(not_after),
            max_uses=max_uses,
            letter_sha256=letter_sha256,
        )
        if not_before is not None:
            request.not_before.CopyFrom(_stamp(not_before))
        return _info(self._call(self._consent.RegisterConsent, request))

    def revoke_consent(self, consent_id: str, reason: str = "") -> ConsentInfo:
        """Revoke one of your consents (idempotent)."""
        request = consent_pb2.RevokeConsentRequest(consent_id=consent_id, reason=reason)
        return _info(self._call(self._consent.RevokeConsent, request))

    def describe_consent(self, consent_id: str) -> ConsentInfo:
        """One of your consents, with its uses so far."""
        request = consent_pb2.ConsentRef(consent_id=consent_id)
        return _info(self._call(self._consent.DescribeConsent, request))

    def list_consents(
        self, *, product: str = "", subject: str = "", after: str = "", limit: int = 1000
    ) -> list[ConsentInfo]:
        """Your registered consents by id, optionally of one product or subject (paged)."""
        request = consent_pb2.ListConsentsRequest(
            product=product, subject=subject, after_consent=after, limit=limit
        )
        return [_info(c) for c in self._call(self._consent.ListConsents, request).consents]

    def revoke_consent_token(self, consent: str, reason: str = "") -> tuple[str, datetime]:
        """List an authority's token ``issuer/id`` as revoked (admin): (label, revoked at)."""
        request = consent_pb2.RevokeConsentTokenRequest(consent=consent, reason=reason)
        reply = self._call(self._consent.RevokeConsentToken, request)
        return reply.consent, _time(reply.revoked_at)

    def checks_without_consent(
        self, *, after_use: int = 0, limit: int = 1000
    ) -> list[ConsentUseRow]:
        """Checks of products that require consent, made without one: should be none (admin)."""
        request = consent_pb2.ChecksWithoutConsentRequest(after_use=after_use, limit=limit)
        return [_use(u) for u in self._call(self._consent.ListChecksWithoutConsent, request).uses]

    def consent_report(
        self, consent: str, *, limit: int = 1000
    ) -> tuple[ConsentInfo, list[ConsentUseRow]]:
        """What one consent (``id`` or ``issuer/id``) authorized and admitted (admin)."""
        request = consent_pb2.ConsentReportRequest(consent=consent, limit=limit)
        reply = self._call(self._consent.GetConsentReport, request)
        return _info(reply.consent), [_use(u) for u in reply.uses]
