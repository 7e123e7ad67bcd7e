"""docs/SECURITY.md's Match wire description, checked against the code the SDK and zone share.

A client in another language is written from that section alone: its domain tags, unit
encoding and test vector must be what ``zone.wire.oprf`` computes, or such a client would
never match.
"""

from __future__ import annotations

import re

import rbcl
from zonekit import REPO

from zone.wire import oprf

DOC = (REPO / "docs" / "SECURITY.md").read_text()
SECTION = DOC.split("### A Match client in another")[1].split("\n### ")[0]


def _hex_after(label: str) -> bytes:
    match = re.search(re.escape(label) + r"[^`]*`([0-9a-f]{32,})`", SECTION)
    assert match, f"no hex value after {label!r} in docs/SECURITY.md"
    return bytes.fromhex(match.group(1))


def _value(name: str) -> bytes:
    match = re.search(rf"`{re.escape(name)} = ([0-9a-f]{{32,}})`", SECTION)
    assert match, f"no value of {name} in docs/SECURITY.md"
    return bytes.fromhex(match.group(1))


def test_documented_domain_tags_are_the_codes() -> None:
    tags = dict(re.findall(r'`(T[12]) = "([^"]+)"`', DOC))
    assert tags == {
        "T1": oprf.HASH_TO_GROUP_TAG.decode(),
        "T2": oprf.FINALIZE_TAG.decode(),
    }


def test_documented_unit_encodings_are_float_hex() -> None:
    pairs = re.findall(r"(\d+(?:\.\d+)?) is\s+`(0x1\.[0-9a-f]{13}p[+-]\d+)`", SECTION)
    assert len(pairs) >= 4
    for number, text in pairs:
        assert float(number).hex() == text


def test_documented_vector_is_what_the_zone_computes() -> None:
    x = oprf.claim_input("capital-match", "registered_capital", 0.01, "91110000MA01ABCD2X", 12345)
    assert _hex_after("`x` (114 bytes) =") == x and len(x) == 114
    assert _value("H1(x)") == oprf.hash_to_group(x)
    a = (7).to_bytes(32, "little")
    k = (11).to_bytes(32, "little")
    blinded = bytes(rbcl.crypto_scalarmult_ristretto255(a, oprf.hash_to_group(x)))
    assert _value("B") == blinded
    evaluated = bytes(rbcl.crypto_scalarmult_ristretto255(k, blinded))
    assert _value("E") == evaluated
    unblinded = oprf.unblind(a, evaluated)
    assert _value("U") == unblinded
    assert unblinded == bytes(rbcl.crypto_scalarmult_ristretto255(k, oprf.hash_to_group(x)))
    assert _value("H2(x, U)") == oprf.finalize(x, unblinded)
