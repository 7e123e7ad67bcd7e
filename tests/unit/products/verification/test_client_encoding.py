"""The SDK's side: claims encoded exactly or refused, features scaled, answers interpreted."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tenseal as ts

from zone.client.he import ClaimOutOfRange, claim_codes, encrypt_blocks, new_keys, scaled_features
from zone.client.he_results import sigmoid

MAX = 2**25


def test_claims_are_whole_units() -> None:
    assert claim_codes([123.45, 0.07, -3.2, 100000.0], 0.01, MAX) == [12345, 7, -320, 10_000_000]
    assert claim_codes([7, 12], 1.0, MAX) == [7, 12]


@pytest.mark.parametrize("value", [0.005, 123.456, float("nan"), float("inf"), 1e6])
def test_unencodable_claims_are_refused(value: float) -> None:
    with pytest.raises(ClaimOutOfRange):
        claim_codes([value], 0.01, MAX)


def test_features_are_clipped_and_scaled() -> None:
    assert scaled_features([-5, 0, 50, 100, 200], [0, 100]) == [0.0, 0.0, 0.5, 1.0, 1.0]


def test_sigmoid_is_stable() -> None:
    values = sigmoid(np.array([0.0, -1000.0, 1000.0, 2.0]))
    assert values.tolist()[:3] == [0.5, 0.0, 1.0]
    assert values[3] == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_status_codes_are_the_wire_values() -> None:
    from zone._proto import verification_pb2
    from zone.wire.replies import FOUND, MISSING_DATA, NOT_FOUND

    assert (FOUND, NOT_FOUND, MISSING_DATA) == (
        verification_pb2.FOUND,
        verification_pb2.NOT_FOUND,
        verification_pb2.MISSING_DATA,
    )


def test_a_reply_that_does_not_match_its_digest_is_refused() -> None:
    import hekit

    from zone._proto import verification_pb2
    from zone.client.he_results import ReplyMismatch, match_report
    from zone.wire.replies import reply_digest

    keys = hekit.caller_keys("bfv-4096")
    blob = hekit.bfv_blob([0])
    status = np.array([1], dtype=np.int8)
    reply = verification_pb2.MatchReply(
        status=[1],
        claims=[verification_pb2.ClaimAnswer(name="employees", candidates=1, ciphertexts=[blob])],
        output_digest=reply_digest("match", status, [("employees", [blob])]),
    )
    assert match_report(keys, ["s"], reply).statuses == ["MATCH"]
    reply.claims[0].ciphertexts[0] = hekit.bfv_blob([1])  # swapped in transit
    with pytest.raises(ReplyMismatch):
        match_report(keys, ["s"], reply)
    with pytest.raises(ReplyMismatch):
        match_report(keys, ["s", "t"], reply)


@pytest.mark.parametrize("param_set", ["bfv-4096", "ckks-8192"])
def test_blocks_are_fresh_encryptions_with_or_without_precomputed_zeros(param_set: str) -> None:
    keys = new_keys(param_set)
    slots = keys.params.slot_count
    values = [float(i % 97) for i in range(slots + 5)]  # two blocks, the second padded
    load = ts.bfv_vector_from if keys.params.scheme == "bfv" else ts.ckks_vector_from
    blobs = []
    for _ in range(3):
        blobs += encrypt_blocks(keys, values)
        assert keys.zeros.wait_until_filled(timeout=30)
    assert keys.zeros.ready("caller") == 2  # the next call's two blocks are made ahead
    assert len(set(blobs)) == len(blobs) == 6  # never the same ciphertext twice
    for first, second in zip(blobs[::2], blobs[1::2], strict=True):
        decrypted = np.concatenate(
            [load(keys.context, first).decrypt(), load(keys.context, second).decrypt()]
        )
        assert np.allclose(decrypted[: len(values)], values, atol=1e-4)
        assert np.allclose(decrypted[len(values) :], 0, atol=1e-4)
    keys.zeros.close()
