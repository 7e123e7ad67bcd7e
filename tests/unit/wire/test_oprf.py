"""The shared OPRF encoding: canonical values, hashing to the group, element checks, blinding."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import rbcl
from hypothesis import given, settings
from hypothesis import strategies as st

from zone.wire.oprf import (
    ELEMENT_BYTES,
    IDENTITY,
    MAX_CODE,
    TAG_BYTES,
    CodeOutOfRange,
    InvalidElement,
    blind,
    blind_claims,
    canonical_code,
    check_elements,
    claim_input,
    element_problem,
    finalize,
    hash_to_group,
    read_matches,
    reply_bytes,
    split_reply,
    unblind,
    value_code,
    window_size,
)

FIELD_P = 2**255 - 19


def _mult(scalar: bytes, element: bytes) -> bytes:
    return bytes(rbcl.crypto_scalarmult_ristretto255(scalar, element))


# --- canonical values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text"),
    [(0, b"0"), (7, b"7"), (-7, b"-7"), (np.int64(12), b"12"), (MAX_CODE, b"9007199254740992")],
)
def test_canonical_code_is_the_decimal_text(code: int, text: bytes) -> None:
    assert canonical_code(code) == text


@pytest.mark.parametrize("code", [True, False, 7.0, "7", None])
def test_canonical_code_refuses_what_is_not_an_integer(code: object) -> None:
    with pytest.raises(TypeError):
        canonical_code(code)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "unit", "code"),
    [(7, 1.0, 7), (-3, 1.0, -3), (0.07, 0.01, 7), (0.3, 0.1, 3), (7.0, 1.0, 7), (-0.0, 1.0, 0),
     (2**53, 1.0, 2**53), (1234.5, 0.5, 2469)],
)  # fmt: skip
def test_value_codes(value: float, unit: float, code: int) -> None:
    assert value_code(value, unit) == code


@pytest.mark.parametrize(
    ("value", "unit"),
    [(1.005, 0.01), (1_000_000.3, 1.0), (0.5, 1.0), (float("nan"), 1.0), (float("inf"), 1.0),
     (True, 1.0), (2**53 + 1, 1.0), (1.0, 0.0), (1.0, -1.0), (1.0, float("nan")), (1e300, 1e-300)],
)  # fmt: skip
def test_values_that_are_not_whole_units_are_refused_not_rounded(value: float, unit: float) -> None:
    with pytest.raises(CodeOutOfRange):
        value_code(value, unit)


@given(
    st.tuples(st.text(max_size=6), st.text(max_size=6), st.text(max_size=6), st.integers()),
    st.tuples(st.text(max_size=6), st.text(max_size=6), st.text(max_size=6), st.integers()),
)
@settings(max_examples=300, deadline=None)
def test_claim_inputs_are_injective(
    a: tuple[str, str, str, int], b: tuple[str, str, str, int]
) -> None:
    same = claim_input(a[0], a[1], 1.0, a[2], a[3]) == claim_input(b[0], b[1], 1.0, b[2], b[3])
    assert same == (a == b)


def test_every_part_of_the_input_changes_the_point() -> None:
    base = ("p", "amount", 0.01, "s1", 7)
    variants = [("q", "amount", 0.01, "s1", 7), ("p", "other", 0.01, "s1", 7),
                ("p", "amount", 1.0, "s1", 7), ("p", "amount", 0.01, "s2", 7),
                ("p", "amount", 0.01, "s1", 8), ("pa", "mount", 0.01, "s1", 7)]  # fmt: skip
    points = {hash_to_group(claim_input(*v)) for v in [base, *variants]}
    assert len(points) == len(variants) + 1
    assert hash_to_group(claim_input(*base)) == hash_to_group(claim_input(*base))


# --- elements -------------------------------------------------------------------------------


def test_hashed_and_blinded_elements_are_acceptable() -> None:
    for i in range(200):
        point = hash_to_group(claim_input("p", "c", 1.0, f"s{i}", i))
        _, blinded = blind(claim_input("p", "c", 1.0, f"s{i}", i))
        assert element_problem(point) is None
        assert element_problem(blinded) is None


def _non_canonical_variants(element: bytes) -> list[bytes]:
    top_bit = element[:31] + bytes([element[31] | 0x80])
    odd = bytes([element[0] ^ 1]) + element[1:]
    return [top_bit, odd]


@pytest.mark.parametrize(
    "data",
    [b"", bytes(31), bytes(33), bytes(64), IDENTITY, FIELD_P.to_bytes(32, "little"),
     (FIELD_P + 2).to_bytes(32, "little"), (2**255 - 1).to_bytes(32, "little"), b"\x01" * 32,
     b"\xff" * 32],
)  # fmt: skip
def test_hostile_elements_get_a_reason(data: bytes) -> None:
    assert isinstance(element_problem(data), str)


def test_non_canonical_encodings_of_valid_elements_are_refused() -> None:
    for _ in range(100):
        element = bytes(rbcl.crypto_core_ristretto255_random())
        top_bit, odd = _non_canonical_variants(element)
        # libsodium decodes the top-bit variant as the same element: only our check refuses it.
        assert bytes(rbcl.crypto_scalarmult_ristretto255(b"\x02" + bytes(31), top_bit)) == _mult(
            b"\x02" + bytes(31), element
        )
        assert element_problem(top_bit) == "not a canonical ristretto255 encoding"
        assert element_problem(odd) is not None


@given(st.binary(min_size=32, max_size=32))
@settings(max_examples=2000, deadline=None)
def test_any_32_bytes_are_refused_or_canonical_and_usable(data: bytes) -> None:
    if element_problem(data) is None:
        # canonical: decoding and encoding again gives the same bytes
        assert bytes(rbcl.crypto_core_ristretto255_add(data, IDENTITY)) == data
        assert len(_mult(bytes(rbcl.crypto_core_ristretto255_scalar_random()), data)) == 32


def test_random_bytes_are_mostly_refused_never_crash() -> None:
    problems = [element_problem(os.urandom(32)) for _ in range(4000)]
    refused = sum(p is not None for p in problems)
    assert 0.8 * 4000 < refused < 0.95 * 4000  # ~7/8 of 32-byte strings are not elements


def test_check_elements_names_the_first_bad_element() -> None:
    good = bytes(rbcl.crypto_core_ristretto255_random())
    assert check_elements(good * 3, 3) == [good] * 3
    with pytest.raises(InvalidElement) as raised:
        check_elements(good + IDENTITY + b"\x01" * 32, 3)
    assert raised.value.index == 1
    with pytest.raises(InvalidElement) as raised:
        check_elements(good * 2, 3)
    assert raised.value.index == -1
    with pytest.raises(InvalidElement):
        check_elements("x" * 96, 3)  # type: ignore[arg-type]


def test_invalid_element_survives_a_process_boundary() -> None:
    copy = pickle.loads(pickle.dumps(InvalidElement(4, "must be 32 bytes")))
    assert (copy.index, copy.problem, str(copy)) == (
        4,
        "must be 32 bytes",
        "element 4: must be 32 bytes",
    )


# --- blinding and replies -------------------------------------------------------------------


def test_unblinding_gives_the_key_times_the_point() -> None:
    x = claim_input("p", "c", 1.0, "s", 5)
    key = bytes(rbcl.crypto_core_ristretto255_scalar_random())
    scalar, blinded = blind(x)
    assert unblind(scalar, _mult(key, blinded)) == _mult(key, hash_to_group(x))
    assert blind(x)[1] != blinded  # fresh blinding every time


def test_sizes() -> None:
    assert [window_size(t) for t in range(4)] == [1, 3, 5, 7]
    assert reply_bytes(10, 2) == 10 * (ELEMENT_BYTES + 5 * TAG_BYTES)
    with pytest.raises(ValueError):
        window_size(-1)


def _reply(key: bytes, blinded: bytes, windows: list[list[bytes]]) -> bytes:
    out = b""
    for i, window in enumerate(windows):
        element = blinded[i * 32 : (i + 1) * 32]
        tags = sorted(finalize(x, _mult(key, hash_to_group(x))) for x in window)
        out += _mult(key, element) + b"".join(tags)
    return out


def test_read_matches_against_a_reply_built_from_the_primitives() -> None:
    key = bytes(rbcl.crypto_core_ristretto255_scalar_random())
    subjects, claims, recorded = ["a", "b", "c"], [10, 11, 20], [10, 10, 10]
    blinded = blind_claims("p", "c", 1.0, subjects, claims)
    windows = [
        [claim_input("p", "c", 1.0, s, v + d) for d in (-1, 0, 1)]
        for s, v in zip(subjects, recorded, strict=True)
    ]
    assert read_matches(blinded, _reply(key, blinded.elements, windows), 1) == [True, True, False]


def test_malformed_replies_are_refused() -> None:
    blinded = blind_claims("p", "c", 1.0, ["a"], [1])
    with pytest.raises(InvalidElement):
        split_reply(b"\x00" * 10, 1, 0)
    with pytest.raises(InvalidElement):
        read_matches(blinded, IDENTITY + bytes(TAG_BYTES), 0)
    with pytest.raises(ValueError):
        blind_claims("p", "c", 1.0, ["a", "b"], [1])
