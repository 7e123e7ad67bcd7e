"""The zone's OPRF evaluation: keys, windows, hostile elements, worker processes."""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

import pytest
import rbcl

from zone.errors import InvalidArgument
from zone.products.verification.pet import (
    BadBlindedElement,
    ClaimBatch,
    call_secret,
    check_blinded,
    disclosed_found,
    evaluate,
    evaluate_batch,
    new_nonce,
    recorded_codes,
    split_batch,
    subject_key,
)
from zone.wire.oprf import (
    ELEMENT_BYTES,
    IDENTITY,
    MAX_CODE,
    TAG_BYTES,
    Blinded,
    InvalidElement,
    blind_claims,
    read_matches,
    reply_bytes,
    split_reply,
)

MASTER = bytes(range(32))
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493


def _batch(
    claims: Sequence[int], recorded: Sequence[int | None], tolerance: int, *, field: str = "amount"
) -> tuple[ClaimBatch, Blinded]:
    subjects = tuple(f"subject-{i}" for i in range(len(claims)))
    blinded = blind_claims("loans", field, 0.01, subjects, list(claims))
    batch = ClaimBatch("loans", field, 0.01, tolerance, subjects, tuple(recorded), blinded.elements)
    return batch, blinded


def _matches(claims: Sequence[int], recorded: Sequence[int | None], tolerance: int) -> list[bool]:
    batch, blinded = _batch(claims, recorded, tolerance)
    reply = evaluate_batch(call_secret(MASTER, new_nonce()), batch)
    return read_matches(blinded, reply, tolerance)


# --- keys -----------------------------------------------------------------------------------


def test_call_secrets_need_a_long_master_secret_and_a_nonce() -> None:
    with pytest.raises(ValueError):
        call_secret(bytes(31), new_nonce())
    with pytest.raises(ValueError):
        call_secret(MASTER, b"short")
    nonce = new_nonce()
    assert call_secret(MASTER, nonce) == call_secret(MASTER, nonce)
    assert call_secret(MASTER, nonce) != call_secret(MASTER, new_nonce())
    assert new_nonce() != new_nonce()


def test_subject_keys_differ_by_call_product_field_and_subject() -> None:
    one, two = call_secret(MASTER, new_nonce()), call_secret(MASTER, new_nonce())
    keys = {
        subject_key(one, "p", "f", "s"),
        subject_key(two, "p", "f", "s"),
        subject_key(one, "q", "f", "s"),
        subject_key(one, "p", "g", "s"),
        subject_key(one, "p", "f", "t"),
        subject_key(one, "pf", "", "s"),
    }
    assert len(keys) == 6
    assert all(0 < int.from_bytes(k, "little") < GROUP_ORDER for k in keys)


# --- correctness ----------------------------------------------------------------------------


@pytest.mark.parametrize("tolerance", [0, 1, 2, 3, 4, 5])
def test_a_claim_matches_exactly_inside_the_window(tolerance: int) -> None:
    offsets = list(range(-tolerance - 2, tolerance + 3))
    recorded = [1234] * len(offsets)
    claims = [1234 + d for d in offsets]
    assert _matches(claims, recorded, tolerance) == [abs(d) <= tolerance for d in offsets]


@pytest.mark.parametrize(
    ("claim", "recorded", "tolerance", "match"),
    [(0, 0, 0, True), (-1, 0, 0, False), (1, -1, 1, False), (-1, 1, 1, False), (0, -1, 1, True),
     (-5, -3, 2, True), (-6, -3, 2, False), (MAX_CODE, MAX_CODE, 0, True),
     (-MAX_CODE, -MAX_CODE + 5, 5, True), (MAX_CODE + 1, MAX_CODE, 1, True)],
)  # fmt: skip
def test_edges(claim: int, recorded: int, tolerance: int, match: bool) -> None:
    assert _matches([claim], [recorded], tolerance) == [match]


@pytest.mark.parametrize("tolerance", [0, 2])
def test_no_recorded_value_never_matches(tolerance: int) -> None:
    claims = list(range(-3, 4))
    assert _matches(claims, [None] * len(claims), tolerance) == [False] * len(claims)


def test_the_reply_layout() -> None:
    batch, blinded = _batch([5, 6, 7], [5, None, 100], 2)
    reply = evaluate_batch(call_secret(MASTER, new_nonce()), batch)
    assert len(reply) == reply_bytes(3, 2)
    step = ELEMENT_BYTES + 5 * TAG_BYTES
    for i in range(3):
        tags = [reply[i * step + 32 + j * 16 : i * step + 48 + j * 16] for j in range(5)]
        assert tags == sorted(tags) and len(set(tags)) == 5
    assert [len(tags) for _, tags in split_reply(reply, 3, 2)] == [5, 5, 5]


def test_an_evaluation_is_deterministic_per_call_but_not_across_calls() -> None:
    batch, _ = _batch([5, 6], [5, 6], 1)
    secret = call_secret(MASTER, new_nonce())
    first, again = evaluate_batch(secret, batch), evaluate_batch(secret, batch)
    assert first == again
    assert evaluate_batch(call_secret(MASTER, new_nonce()), batch)[:32] != first[:32]


def test_fields_of_one_subject_use_different_keys() -> None:
    secret = call_secret(MASTER, new_nonce())
    one, blinded = _batch([5], [5], 0, field="amount")
    other = ClaimBatch("loans", "income", 0.01, 0, one.subjects, (5,), one.blinded)
    reply_income = evaluate_batch(secret, other)
    assert read_matches(blinded, evaluate_batch(secret, one), 0) == [True]
    assert read_matches(blinded, reply_income, 0) == [False]


# --- hostile elements -----------------------------------------------------------------------


def _hostile() -> Iterator[tuple[str, bytes]]:
    good = bytes(rbcl.crypto_core_ristretto255_random())
    yield "short", good[:31]
    yield "long", good + b"\x00"
    yield "identity", IDENTITY
    yield "top bit", good[:31] + bytes([good[31] | 0x80])
    yield "odd", bytes([good[0] ^ 1]) + good[1:]
    yield "field prime", (2**255 - 19).to_bytes(32, "little")
    yield "not a point", b"\x01" * 32
    yield "all ones", b"\xff" * 32


@pytest.mark.parametrize(("name", "bad"), list(_hostile()))
def test_hostile_elements_are_refused_with_a_domain_error(name: str, bad: bytes) -> None:
    batch, _ = _batch([1, 2], [1, 2], 1)
    hostile = ClaimBatch(
        "loans", "amount", 0.01, 1, batch.subjects, (1, 2), batch.blinded[:32] + bad
    )
    with pytest.raises(BadBlindedElement) as raised:
        check_blinded(hostile)
    assert isinstance(raised.value, InvalidArgument)
    assert raised.value.reason == "bad_blinded_element"
    with pytest.raises(InvalidElement):  # the worker checks again: never a RuntimeError
        evaluate_batch(call_secret(MASTER, new_nonce()), hostile)


def test_random_bytes_never_crash_the_evaluation() -> None:
    secret = call_secret(MASTER, new_nonce())
    refused = 0
    for seed in range(300):
        data = bytes((seed * 37 + i * 101) % 256 for i in range(32))
        batch = ClaimBatch("p", "f", 1.0, 0, ("s",), (1,), data)
        try:
            evaluate_batch(secret, batch)
        except InvalidElement:
            refused += 1
    assert refused > 200


def test_mismatched_lengths_are_refused() -> None:
    batch, _ = _batch([1, 2], [1, 2], 0)
    with pytest.raises(ValueError):
        evaluate_batch(MASTER, ClaimBatch("p", "f", 1.0, 0, batch.subjects, (1,), batch.blinded))


# --- worker processes -----------------------------------------------------------------------


def test_batches_pickle_and_split_in_order() -> None:
    batch, _ = _batch(list(range(7)), list(range(7)), 0)
    assert pickle.loads(pickle.dumps(batch)) == batch
    parts = split_batch(batch, 3)
    assert [len(p.subjects) for p in parts] == [3, 3, 1]
    assert b"".join(p.blinded for p in parts) == batch.blinded
    assert sum((p.subjects for p in parts), ()) == batch.subjects


def test_a_process_pool_gives_the_same_answers() -> None:
    claims = [100 + (i % 9) - 4 for i in range(40)]
    batch, blinded = _batch(claims, [100] * 20 + [None] * 20, 2)
    secret = call_secret(MASTER, new_nonce())
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        parallel = evaluate(secret, batch, pool, parts=2)
    serial = evaluate(secret, batch)
    step = ELEMENT_BYTES + 5 * TAG_BYTES
    assert [parallel[i * step : i * step + 32] for i in range(20)] == [
        serial[i * step : i * step + 32] for i in range(20)
    ]
    assert parallel[: 20 * step] == serial[: 20 * step]  # recorded values: same bytes
    expected = [abs(c - 100) <= 2 for c in claims[:20]] + [False] * 20
    assert read_matches(blinded, parallel, 2) == expected


def test_membership_disclosure() -> None:
    assert disclosed_found([True, False], "disclosed") == (True, False)
    assert disclosed_found([True, False], "hidden") == (None, None)


def test_recorded_codes_leave_nothing_to_match_for_null_or_fractional_values() -> None:
    values = [12.34, float("nan"), 0.005, -1.0, float("inf"), 2.0**60]
    assert recorded_codes(values, 0.01) == (1234, None, None, -100, None, None)
