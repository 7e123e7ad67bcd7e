"""Consent tokens: an authority's Ed25519 signature over what a subject authorized.

Format (version 1)::

    base64url(payload) "." base64url(signature)          (no padding, at most 2048 characters)

``payload`` is the canonical JSON object (keys sorted, no whitespace, UTF-8) with exactly the
fields ``v`` (1), ``consent`` (the authority's consent id), ``issuer`` (the authority's id),
``principal``, ``product``, ``subject``, ``purpose``, ``not_before``, ``not_after`` (unix
seconds, inclusive) and ``max_uses``. ``signature`` is Ed25519 over the
ASCII tag ``zone.consent.v1``, a zero byte, then ``payload``: the tag keeps a consent signature
from being valid as anything else the same key might sign.

Parsing is strict, so that one consent has exactly one token text per key (Ed25519 signatures
are deterministic) and nothing but the signed bytes is ever interpreted: canonical base64url
only, canonical JSON only (which also rules out duplicate and reordered keys), no unknown or
missing fields, no floats or booleans for integers. Anything else is ``InvalidArgument``.
A token that parses is not yet trusted: :func:`verify_token` checks it against the keys of the
consent authorities that the policies list.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from zone.consent.terms import CONSENT_ID, ISSUER_ID, ConsentTerms
from zone.errors import InvalidArgument

TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 2048
SIGNING_DOMAIN = b"zone.consent.v1\x00"
SIGNATURE_LENGTH = 64

_INT_FIELDS = frozenset({"v", "not_before", "not_after", "max_uses"})
_STR_FIELDS = frozenset({"consent", "issuer", "principal", "product", "subject", "purpose"})
_FIELDS = _INT_FIELDS | _STR_FIELDS
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_REASON = "bad_consent_token"

TokenCheck = Literal["ok", "unknown_issuer", "bad_signature"]


class MalformedToken(InvalidArgument):
    """A consent token that does not follow the format (never a signature failure)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"malformed consent token: {detail}", reason=_REASON)


@dataclass(frozen=True)
class ConsentToken:
    """A parsed (not yet verified) consent token.

    Attributes:
        consent_id: The authority's id for this consent.
        issuer: The id of the authority that claims to have signed it.
        terms: What it authorizes.
        text: The token exactly as presented.
        payload: The signed bytes (canonical JSON).
        signature: The 64-byte Ed25519 signature.
    """

    consent_id: str
    issuer: str
    terms: ConsentTerms
    text: str
    payload: bytes
    signature: bytes

    @cached_property
    def digest(self) -> str:
        """Lowercase hex SHA-256 of :attr:`text` (stored to recognise the token again)."""
        return hashlib.sha256(self.text.encode("ascii")).hexdigest()

    @property
    def label(self) -> str:
        """``issuer/consent_id``: how receipts and the admin view name this consent."""
        return f"{self.issuer}/{self.consent_id}"


def issue_token(
    key: Ed25519PrivateKey, *, issuer: str, consent_id: str, terms: ConsentTerms
) -> str:
    """Sign ``terms`` as consent ``consent_id`` of authority ``issuer``.

    For consent authorities (``zone consent issue``), tests and the demo; the zone
    itself never issues tokens.

    Returns:
        The token text.

    Raises:
        InvalidArgument: an id or a term is invalid (every problem is listed).
    """
    payload = {
        "v": TOKEN_VERSION,
        "consent": consent_id,
        "issuer": issuer,
        "principal": terms.principal,
        "product": terms.product,
        "subject": terms.subject,
        "purpose": terms.purpose,
        "not_before": terms.not_before,
        "not_after": terms.not_after,
        "max_uses": terms.max_uses,
    }
    problems = _payload_problems(payload)
    if problems:
        raise InvalidArgument("cannot issue consent token: " + "; ".join(problems))
    body = _canonical(payload)
    signature = key.sign(SIGNING_DOMAIN + body)
    text = f"{_b64encode(body)}.{_b64encode(signature)}"
    if len(text) > MAX_TOKEN_LENGTH:
        raise InvalidArgument(f"cannot issue consent token: longer than {MAX_TOKEN_LENGTH}")
    return text


def parse_token(text: str) -> ConsentToken:
    """Parse a token strictly, without checking its signature.

    Raises:
        MalformedToken: (an ``InvalidArgument``) the text is not a version-1 consent token.
    """
    if not isinstance(text, str):
        raise MalformedToken("not a string")
    if len(text) > MAX_TOKEN_LENGTH:
        raise MalformedToken(f"longer than {MAX_TOKEN_LENGTH} characters")
    parts = text.split(".")
    if len(parts) != 2:
        raise MalformedToken("expected base64url(payload).base64url(signature)")
    body, signature = _b64decode(parts[0], "payload"), _b64decode(parts[1], "signature")
    if len(signature) != SIGNATURE_LENGTH:
        raise MalformedToken(f"the signature must be {SIGNATURE_LENGTH} bytes")
    payload = _decode_payload(body)
    return ConsentToken(
        consent_id=payload["consent"],
        issuer=payload["issuer"],
        terms=ConsentTerms(
            principal=payload["principal"],
            product=payload["product"],
            subject=payload["subject"],
            purpose=payload["purpose"],
            not_before=payload["not_before"],
            not_after=payload["not_after"],
            max_uses=payload["max_uses"],
        ),
        text=text,
        payload=body,
        signature=signature,
    )


def verify_token(token: ConsentToken, authorities: Mapping[str, Ed25519PublicKey]) -> TokenCheck:
    """Whether ``token`` was signed by the authority it names.

    Args:
        token: A parsed token.
        authorities: Public key of each consent authority, by authority id (from the policies).

    Returns:
        ``ok``; ``unknown_issuer`` when no listed authority has the token's issuer id;
        ``bad_signature`` when the signature is not that authority's over these bytes.
    """
    key = authorities.get(token.issuer)
    if key is None:
        return "unknown_issuer"
    try:
        key.verify(token.signature, SIGNING_DOMAIN + token.payload)
    except InvalidSignature:
        return "bad_signature"
    return "ok"


def read_token_file(path: Path) -> dict[str, str]:
    """Read consent tokens from a file (one per line; blank lines and ``#`` comments skipped).

    For the SDK and the CLI, which send each subject's token with the call.

    Returns:
        Token text by the subject it names.

    Raises:
        InvalidArgument: the file cannot be read, a line is not a token, or two tokens name
            the same subject (the message names the line).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read consent tokens from {path}") from exc
    tokens: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            subject = parse_token(text).terms.subject
        except MalformedToken as exc:
            raise InvalidArgument(f"{path}:{number}: {exc.message}", reason=_REASON) from exc
        if subject in tokens:
            raise InvalidArgument(f"{path}:{number}: a second token for the same subject")
        tokens[subject] = text
    return tokens


def _canonical(payload: Mapping[str, Any]) -> bytes:
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedToken(f"the {what} is not base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken(f"the {what} is not base64url without padding") from exc
    if _b64encode(data) != text:
        raise MalformedToken(f"the {what} is not canonical base64url")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedToken(f"duplicate field {key!r}")
        out[key] = value
    return out


def _refuse_float(text: str) -> float:
    raise MalformedToken("numbers must be integers")


def _refuse_constant(text: str) -> float:
    raise MalformedToken(f"{text} is not allowed")


def _decode_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedToken("the payload is not UTF-8 JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedToken("the payload must be a JSON object")
    problems = _payload_problems(payload)
    if problems:
        raise MalformedToken("; ".join(problems))
    if _canonical(payload) != body:
        raise MalformedToken("the payload is not canonical JSON (sorted keys, no spaces)")
    return payload


def _payload_problems(payload: Mapping[str, Any]) -> list[str]:
    """Every problem of a payload's fields: names, types, version, ids and terms."""
    unknown = sorted(set(payload) - _FIELDS)
    missing = sorted(_FIELDS - set(payload))
    problems = [f"unknown field {name!r}" for name in unknown]
    problems += [f"missing field {name!r}" for name in missing]
    for name in sorted(_FIELDS & set(payload)):
        value = payload[name]
        if name in _INT_FIELDS and (not isinstance(value, int) or isinstance(value, bool)):
            problems.append(f"{name!r} must be an integer")
        if name in _STR_FIELDS and not isinstance(value, str):
            problems.append(f"{name!r} must be a string")
    if problems:
        return problems
    if payload["v"] != TOKEN_VERSION:
        return [f"unsupported version {payload['v']} (this zone reads version {TOKEN_VERSION})"]
    if not CONSENT_ID.fullmatch(payload["consent"]):
        problems.append(f"consent must match {CONSENT_ID.pattern}")
    if not ISSUER_ID.fullmatch(payload["issuer"]):
        problems.append(f"issuer must match {ISSUER_ID.pattern}")
    terms = ConsentTerms(**{k: payload[k] for k in _FIELDS - {"v", "consent", "issuer"}})
    return problems + terms.problems()
