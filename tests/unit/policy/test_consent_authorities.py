from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from zone.audit.keys import public_pem
from zone.consent import encode_authority_key
from zone.policy import ConsentAuthoritySpec, PolicyFile, PolicySet

Write = Callable[[str, str], Path]
Load = Callable[[], PolicySet]
Problems = Callable[[], list[str]]

KEY = Ed25519PrivateKey.generate().public_key()
OTHER_KEY = Ed25519PrivateKey.generate().public_key()


def authorities(*entries: tuple[str, str]) -> str:
    lines = ["consent_authorities:"]
    for authority_id, key in entries:
        lines += [f"  - id: {authority_id}", f"    name: Portal {authority_id}",
                  f"    public_key: {key}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def test_authorities_load_with_raw_and_pem_keys(write: Write, load: Load) -> None:
    pem = json.dumps(public_pem(OTHER_KEY).decode("ascii"))  # a YAML double-quoted scalar
    write(
        "consent.yaml",
        f"""
        consent_authorities:
          - id: gov-consent
            name: E-government consent portal
            public_key: {encode_authority_key(KEY)}
          - id: court-portal
            name: Court records consent portal
            public_key: {pem}
        """,
    )
    policies = load()
    gov = policies.consent_authorities["gov-consent"]
    assert gov.name == "E-government consent portal"
    assert gov.source == "policies/consent.yaml:2"
    assert encode_authority_key(gov.public_key) == encode_authority_key(KEY)
    keys = policies.consent_keys()
    assert set(keys) == {"gov-consent", "court-portal"}
    assert encode_authority_key(keys["court-portal"]) == encode_authority_key(OTHER_KEY)


def test_no_authorities_means_no_tokens_are_accepted(write: Write, load: Load) -> None:
    write("empty.yaml", "principals: []\n")
    assert dict(load().consent_keys()) == {}
    assert dict(PolicySet.empty().consent_keys()) == {}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("bm90IGEga2V5", "must be base64 of a 32-byte Ed25519 public key, or PEM (got 9 bytes)"),
        ("'***'", "must be base64 of a 32-byte Ed25519 public key, or PEM"),
    ],
)
def test_a_bad_key_is_reported_at_its_line(
    write: Write, problems: Problems, key: str, message: str
) -> None:
    write("consent.yaml", authorities(("gov-consent", key)))
    assert problems() == [
        f"policies/consent.yaml:4: consent_authorities[0].public_key: Value error, {message}"
    ]


def test_a_private_key_is_refused(write: Write, problems: Problems) -> None:
    write(
        "consent.yaml",
        """
        consent_authorities:
          - id: gov-consent
            name: Portal
            public_key: "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----"
        """,
    )
    [problem] = problems()
    assert problem.startswith("policies/consent.yaml:4: consent_authorities[0].public_key: ")
    assert "must be a public key" in problem


def test_duplicate_ids_and_shared_keys_are_reported(write: Write, problems: Problems) -> None:
    raw, other = encode_authority_key(KEY), encode_authority_key(OTHER_KEY)
    write("a.yaml", authorities(("gov-consent", raw)))
    write("b.yaml", authorities(("gov-consent", other), ("court-portal", raw)))
    assert problems() == [
        "policies/b.yaml:2: duplicate consent authority id 'gov-consent' "
        "(first defined at policies/a.yaml:2)",
        "policies/b.yaml:7: public_key is already the key of consent authority 'gov-consent'; "
        "each authority needs its own",
    ]


def test_schema_fields_are_strict() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        ConsentAuthoritySpec.model_validate(
            {"id": "Gov Portal", "name": " ", "public_key": encode_authority_key(KEY), "x": 1}
        )
    fields = sorted(str(e["loc"][0]) for e in info.value.errors())
    assert fields == ["id", "name", "x"]
    assert PolicyFile.model_validate({}).consent_authorities == []


ISSUER_GRANT = """
principals:
  - id: bank-a
    role: operator
    organisation: Example Bank A
    token_sha256: 'abababababababababababababababababababababababababababababababab'
grants:
  - principal: bank-a
    products: [capital-match, capital-tokens]
    purpose: credit checks
"""


def test_a_grant_of_a_token_product_needs_an_authority(write: Write, problems: Problems) -> None:
    write("ops.yaml", ISSUER_GRANT)
    assert problems() == [
        "policies/ops.yaml:8: product 'capital-tokens' takes consent "
        "tokens (consent: issuer), but no consent_authorities are configured: every subject "
        "would be refused"
    ]


def test_an_authority_in_any_file_satisfies_it(write: Write, load: Load) -> None:
    write("ops.yaml", ISSUER_GRANT)
    write("consent.yaml", authorities(("gov-consent", encode_authority_key(KEY))))
    assert "capital-tokens" in load().grants[0].products
