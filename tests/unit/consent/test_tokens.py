from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from consentkit import AUTHORITY, token
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from zone.consent import (
    MAX_TOKEN_LENGTH,
    MalformedToken,
    decode_authority_key,
    encode_authority_key,
    parse_token,
    read_token_file,
    verify_token,
)
from zone.consent.tokens import SIGNING_DOMAIN
from zone.errors import InvalidArgument


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def payload_of(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(unb64(text.split(".")[0]))
    return loaded


def signed(key: Ed25519PrivateKey, body: bytes) -> str:
    """A token over arbitrary payload bytes, correctly signed (to reach the parser's checks)."""
    return f"{b64(body)}.{b64(key.sign(SIGNING_DOMAIN + body))}"


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def malformed(text: str) -> str:
    with pytest.raises(MalformedToken) as info:
        parse_token(text)
    assert isinstance(info.value, InvalidArgument)
    assert info.value.reason == "bad_consent_token"
    return info.value.message


def test_a_token_round_trips_and_verifies(
    authority_key: Ed25519PrivateKey, authorities: dict[str, Ed25519PublicKey]
) -> None:
    text = token(authority_key, purpose="授信审批")
    parsed = parse_token(text)
    assert parsed.issuer == AUTHORITY and parsed.consent_id == "gc-0001"
    assert parsed.terms.purpose == "授信审批" and parsed.terms.max_uses == 3
    assert parsed.label == f"{AUTHORITY}/gc-0001"
    assert len(parsed.digest) == 64
    assert verify_token(parsed, authorities) == "ok"


def test_the_payload_is_versioned_canonical_json(authority_key: Ed25519PrivateKey) -> None:
    text = token(authority_key)
    body = unb64(text.split(".")[0])
    payload = json.loads(body)
    assert payload["v"] == 1
    assert set(payload) == {
        "v", "consent", "issuer", "principal", "product", "subject", "purpose",
        "not_before", "not_after", "max_uses",
    }  # fmt: skip
    assert canonical(payload) == body
    assert "=" not in text and len(text) <= MAX_TOKEN_LENGTH


def test_signing_is_deterministic(authority_key: Ed25519PrivateKey) -> None:
    assert token(authority_key) == token(authority_key)


def test_a_key_that_is_not_the_authoritys_is_a_bad_signature(
    authorities: dict[str, Ed25519PublicKey],
) -> None:
    forged = parse_token(token(Ed25519PrivateKey.generate()))
    assert verify_token(forged, authorities) == "bad_signature"


def test_a_payload_altered_after_signing_is_a_bad_signature(
    authority_key: Ed25519PrivateKey, authorities: dict[str, Ed25519PublicKey]
) -> None:
    original = token(authority_key)
    payload = payload_of(original)
    payload["max_uses"] = 1000
    altered = f"{b64(canonical(payload))}.{original.split('.')[1]}"
    assert verify_token(parse_token(altered), authorities) == "bad_signature"


def test_an_issuer_not_in_the_policies_is_unknown(authority_key: Ed25519PrivateKey) -> None:
    parsed = parse_token(token(authority_key))
    assert verify_token(parsed, {"other-authority": authority_key.public_key()}) == (
        "unknown_issuer"
    )


def test_a_signature_by_another_listed_authority_does_not_count(
    authority_key: Ed25519PrivateKey,
) -> None:
    other = Ed25519PrivateKey.generate()
    parsed = parse_token(token(other))  # names AUTHORITY, signed by "other-authority"'s key
    keys = {AUTHORITY: authority_key.public_key(), "other-authority": other.public_key()}
    assert verify_token(parsed, keys) == "bad_signature"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected base64url(payload).base64url(signature)"),
        ("abc", "expected base64url(payload).base64url(signature)"),
        ("a.b.c", "expected base64url(payload).base64url(signature)"),
        ("a+b.AAAA", "the payload is not base64url without padding"),
        ("YWJj.AA==", "the signature is not base64url without padding"),
        ("YWJj.A", "the signature is not base64url without padding"),
        ("YWJj.AAAA", "the signature must be 64 bytes"),
    ],
)
def test_bad_envelopes_are_refused(text: str, message: str) -> None:
    assert malformed(text) == f"malformed consent token: {message}"


def test_non_canonical_base64_is_refused(authority_key: Ed25519PrivateKey) -> None:
    body, signature = token(authority_key).split(".")
    # The last character of an 86-character signature carries 4 unused bits (zero): set one.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tweaked = signature[:-1] + alphabet[alphabet.index(signature[-1]) | 1]
    assert "not canonical base64url" in malformed(f"{body}.{tweaked}")


def test_oversize_tokens_are_refused_before_decoding() -> None:
    assert "longer than 2048" in malformed("A" * (MAX_TOKEN_LENGTH + 1))


def test_duplicate_fields_are_refused(authority_key: Ed25519PrivateKey) -> None:
    body = canonical(payload_of(token(authority_key)))
    duplicated = body[:-1] + b',"subject":"someone-else"}'
    assert "duplicate field 'subject'" in malformed(signed(authority_key, duplicated))


def test_unknown_and_missing_fields_are_refused(authority_key: Ed25519PrivateKey) -> None:
    payload = payload_of(token(authority_key))
    payload["scope"] = "everything"
    del payload["max_uses"]
    message = malformed(signed(authority_key, canonical(payload)))
    assert "unknown field 'scope'" in message and "missing field 'max_uses'" in message


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_uses", True, "'max_uses' must be an integer"),
        ("max_uses", "3", "'max_uses' must be an integer"),
        ("not_after", None, "'not_after' must be an integer"),
        ("subject", 42, "'subject' must be a string"),
        ("max_uses", 0, "max_uses must be an integer from 1 to 1000000"),
        ("v", 2, "unsupported version 2"),
        ("issuer", "Gov Consent", "issuer must match"),
        ("consent", "a/b", "consent must match"),
        ("subject", "line\nbreak", "subject must not contain control characters"),
        ("not_before", -1, "not_before must be whole unix seconds"),
        ("not_before", 2_000_000_000, "not_after must not be before not_before"),
    ],
)
def test_wrong_types_and_values_are_refused(
    authority_key: Ed25519PrivateKey, field: str, value: object, message: str
) -> None:
    payload = payload_of(token(authority_key))
    payload[field] = value
    assert message in malformed(signed(authority_key, canonical(payload)))


def test_floats_are_refused(authority_key: Ed25519PrivateKey) -> None:
    body = canonical(payload_of(token(authority_key))).replace(b'"max_uses":3', b'"max_uses":3.0')
    assert "numbers must be integers" in malformed(signed(authority_key, body))


def test_non_canonical_json_is_refused(authority_key: Ed25519PrivateKey) -> None:
    payload = payload_of(token(authority_key))
    spaced = json.dumps(payload, sort_keys=True).encode()
    assert "not canonical JSON" in malformed(signed(authority_key, spaced))


def test_a_payload_that_is_not_an_object_is_refused(authority_key: Ed25519PrivateKey) -> None:
    assert "must be a JSON object" in malformed(signed(authority_key, b"[1,2]"))
    assert "not UTF-8 JSON" in malformed(signed(authority_key, b"\xff{"))


def test_token_files_map_subjects_to_tokens(
    tmp_path: Path, authority_key: Ed25519PrivateKey
) -> None:
    first = token(authority_key, consent_id="gc-1", subject="s-1")
    second = token(authority_key, consent_id="gc-2", subject="s-2")
    path = tmp_path / "consents.txt"
    path.write_text(f"# from the portal\n{first}\n\n  {second}  \n", encoding="utf-8")
    assert read_token_file(path) == {"s-1": first, "s-2": second}


def test_token_files_name_the_bad_line(tmp_path: Path, authority_key: Ed25519PrivateKey) -> None:
    path = tmp_path / "consents.txt"
    path.write_text(f"{token(authority_key)}\nnot-a-token\n", encoding="utf-8")
    with pytest.raises(InvalidArgument, match=r"consents.txt:2: malformed consent token"):
        read_token_file(path)
    path.write_text(f"{token(authority_key)}\n{token(authority_key, 'gc-2')}\n", encoding="utf-8")
    with pytest.raises(InvalidArgument, match=r"consents.txt:2: a second token"):
        read_token_file(path)


def test_authority_keys_read_raw_base64_and_pem(authority_key: Ed25519PrivateKey) -> None:
    from zone.audit.keys import public_pem

    public = authority_key.public_key()
    text = encode_authority_key(public)
    assert encode_authority_key(decode_authority_key(text)) == text
    pem = public_pem(public).decode("ascii")
    assert encode_authority_key(decode_authority_key(pem)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not base64!", "must be base64 of a 32-byte Ed25519 public key"),
        (base64.b64encode(b"x" * 31).decode(), "(got 31 bytes)"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a readable PEM"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "must be a public key"),
    ],
)
def test_bad_authority_keys_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_authority_key(text)
