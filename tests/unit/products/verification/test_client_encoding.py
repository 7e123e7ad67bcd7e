"""The SDK's side: claims encoded exactly or refused, features scaled, answers interpreted."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tenseal as ts

from zone.client.he import encrypt_blocks, encrypt_packed, lanes_for, new_keys, scaled_features
from zone.client.he_results import sigmoid
from zone.client.match import ClaimOutOfRange, claim_codes


def test_claims_are_whole_units() -> None:
    assert claim_codes([123.45, 0.07, -3.2, 100000.0], 0.01) == [12345, 7, -320, 10_000_000]
    assert claim_codes([7, 12], 1.0) == [7, 12]
    assert claim_codes([2**53], 1.0) == [2**53]


@pytest.mark.parametrize("value", [0.005, 123.456, float("nan"), float("inf"), 1e17, True])
def test_unencodable_claims_are_refused(value: float) -> None:
    with pytest.raises(ClaimOutOfRange):
        claim_codes([value], 0.01)


def test_features_are_clipped_and_scaled() -> None:
    assert scaled_features([-5, 0, 50, 100, 200], [0, 100]) == [0.0, 0.0, 0.5, 1.0, 1.0]


def test_sigmoid_is_stable() -> None:
    values = sigmoid(np.array([0.0, -1000.0, 1000.0, 2.0]))
    assert values.tolist()[:3] == [0.5, 0.0, 1.0]
    assert values[3] == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_status_codes_are_the_wire_values() -> None:
    from zone._proto import verification_pb2
    from zone.wire.replies import CONSENT_REFUSED, FOUND, MISSING_DATA, NOT_FOUND, UNDISCLOSED

    assert (FOUND, NOT_FOUND, MISSING_DATA, UNDISCLOSED, CONSENT_REFUSED) == (
        verification_pb2.FOUND,
        verification_pb2.NOT_FOUND,
        verification_pb2.MISSING_DATA,
        verification_pb2.UNDISCLOSED,
        verification_pb2.CONSENT_REFUSED,
    )


def test_blocks_are_fresh_encryptions_with_or_without_precomputed_zeros() -> None:
    keys = new_keys("ckks-8192")
    slots = keys.params.slot_count
    values = [float(i % 97) for i in range(slots + 5)]  # two blocks, the second padded
    load = ts.ckks_vector_from
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


def test_small_calls_pack_their_features_into_lanes() -> None:
    assert lanes_for(1, 2, 4096) == 2
    assert lanes_for(2048, 2, 4096) == 2
    assert lanes_for(2049, 2, 4096) == 1  # a lane of 2,048 slots cannot hold it
    assert lanes_for(1000, 5, 4096) == 4
    assert lanes_for(10, 1, 4096) == 1
    assert lanes_for(10, 0, 4096) == 1
    keys = new_keys("ckks-8192")
    columns = [[0.25, 0.5], [0.75, 1.0], [0.125, 0.0]]
    first, second = encrypt_packed(keys, columns, 2)
    decrypt = [np.array(ts.ckks_vector_from(keys.context, b).decrypt()) for b in (first, second)]
    width = keys.params.slot_count // 2
    np.testing.assert_allclose(decrypt[0][:2], columns[0], atol=1e-6)
    np.testing.assert_allclose(decrypt[0][width : width + 2], columns[1], atol=1e-6)
    np.testing.assert_allclose(decrypt[1][:2], columns[2], atol=1e-6)
    assert np.abs(decrypt[1][width:]).max() < 1e-6  # an empty lane is zero
    with pytest.raises(ValueError, match="lane"):
        encrypt_packed(keys, [[0.0] * (width + 1), [0.0]], 2)
