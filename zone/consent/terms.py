"""What a consent authorizes, the checks on each of its fields, and why a use is refused.

A consent authorizes one principal (an operator) to check one subject with one verification
product for one stated purpose, between two instants (whole unix seconds, both inclusive), at
most ``max_uses`` times. The same terms come from an operator's registered record or from an
authority's signed token (:mod:`zone.consent.tokens`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

ConsentMode = Literal["none", "operator", "issuer"]
"""How a product's subjects consent: not at all (public interest), by records the operator
registers, or by tokens signed by a consent authority."""
CONSENT_MODES: tuple[ConsentMode, ...] = ("none", "operator", "issuer")

ConsentReason = Literal[
    "ok",
    "no_consent",
    "unknown",
    "unknown_issuer",
    "bad_signature",
    "conflicting_token",
    "wrong_principal",
    "wrong_product",
    "wrong_purpose",
    "wrong_subject",
    "not_yet_valid",
    "expired",
    "revoked",
    "used_up",
]
"""The outcome of one subject's consent check: ``ok`` or why the subject was refused."""

CONSENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ISSUER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PRINCIPAL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PRODUCT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
MAX_SUBJECT_LENGTH = 128
MAX_PURPOSE_LENGTH = 256
MAX_USES = 1_000_000
MAX_TIME = 253_402_300_799
"""9999-12-31T23:59:59Z, the last instant a consent may name."""


def unix_seconds(when: datetime) -> int:
    """Whole unix seconds of an aware datetime (fractions dropped).

    Raises:
        ValueError: ``when`` is naive (a consent's window must not depend on a local zone).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("times must carry a time zone (UTC)")
    return int(when.timestamp())


def from_unix(seconds: int) -> datetime:
    """The UTC datetime of whole unix seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def subject_problem(subject: object) -> str | None:
    """Why ``subject`` cannot be a subject key, or None (1-128 printable characters)."""
    if not isinstance(subject, str):
        return "subject must be a string"
    if not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
        return f"subject must have 1 to {MAX_SUBJECT_LENGTH} characters"
    if not subject.isprintable():
        return "subject must not contain control characters"
    return None


def purpose_problem(purpose: object) -> str | None:
    """Why ``purpose`` cannot be a stated purpose, or None (1-256 printable characters)."""
    if not isinstance(purpose, str):
        return "purpose must be a string"
    if not purpose.strip() or len(purpose) > MAX_PURPOSE_LENGTH:
        return f"purpose must have 1 to {MAX_PURPOSE_LENGTH} characters"
    if not purpose.isprintable():
        return "purpose must not contain control characters"
    return None


@dataclass(frozen=True)
class ConsentTerms:
    """What one consent authorizes.

    Attributes:
        principal: The operator allowed to check the subject.
        product: The verification product it may use.
        subject: The subject's key in the product's dataset.
        purpose: The purpose the subject agreed to; a call must state exactly this text.
        not_before: First unix second the consent may be used (inclusive).
        not_after: Last unix second the consent may be used (inclusive).
        max_uses: How many subject checks it allows, at least 1.
    """

    principal: str
    product: str
    subject: str
    purpose: str
    not_before: int
    not_after: int
    max_uses: int

    def problems(self) -> list[str]:
        """Every problem of these terms (empty when they are valid)."""
        found: list[str] = []
        if not _matches(PRINCIPAL_ID, self.principal):
            found.append(f"principal must match {PRINCIPAL_ID.pattern}")
        if not _matches(PRODUCT_ID, self.product):
            found.append(f"product must match {PRODUCT_ID.pattern}")
        found.extend(p for p in (subject_problem(self.subject), purpose_problem(self.purpose)) if p)
        window_ok = True
        for name in ("not_before", "not_after"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= MAX_TIME:
                found.append(f"{name} must be whole unix seconds from 0 to {MAX_TIME}")
                window_ok = False
        if window_ok and self.not_after < self.not_before:
            found.append("not_after must not be before not_before")
        if not _is_int(self.max_uses) or not 0 < self.max_uses <= MAX_USES:
            found.append(f"max_uses must be an integer from 1 to {MAX_USES}")
        return found

    def mismatch(
        self, *, principal: str, product: str, purpose: str, subject: str, now: int
    ) -> ConsentReason | None:
        """Why these terms do not cover this check at ``now``, or None when they do.

        The principal is compared first: a consent of another principal reveals nothing else.
        """
        checks: tuple[tuple[bool, ConsentReason], ...] = (
            (self.principal != principal, "wrong_principal"),
            (self.product != product, "wrong_product"),
            (self.purpose != purpose, "wrong_purpose"),
            (self.subject != subject, "wrong_subject"),
            (now < self.not_before, "not_yet_valid"),
            (now > self.not_after, "expired"),
        )
        return next((reason for failed, reason in checks if failed), None)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None
