"""The CKKS scoring circuit: correct logits, flooding noise of the stated size, masked slots.

Both layouts: one caller feature per ciphertext, and packed calls (lanes).
"""

from __future__ import annotations

import hekit
import numpy as np
import pytest
import tenseal as ts

from zone.catalog._verification import CallerFeature
from zone.client.he import encrypt_packed
from zone.errors import InvalidArgument
from zone.products.verification.compute import answer_scores, check_lanes
from zone.products.verification.models import ScoreModel
from zone.products.verification.score import FILL_BOUND, protect, score_block
from zone.products.verification.validate import load_vector
from zone.wire.fresh import encrypt_zero
from zone.wire.he_params import CKKS_SCORE

SLOTS = CKKS_SCORE.slot_count
STDDEV = 0.01


def decrypt(vector: object) -> np.ndarray:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    return np.array(ts.ckks_vector_from(keys.context, vector.serialize()).decrypt())  # type: ignore[attr-defined]


@pytest.mark.parametrize("made_ahead", [True, False])
def test_logits_are_right_up_to_the_stated_noise(made_ahead: bool) -> None:
    """With a zero made ahead, or none ready (the protection values encrypted directly)."""
    keys = hekit.caller_keys(CKKS_SCORE.name)
    context = hekit.zone_context(CKKS_SCORE.name)
    rng = np.random.default_rng(1)
    features = rng.random((2, SLOTS))
    weights = [1.5, -0.75]
    zone_part = rng.normal(size=SLOTS)
    live = np.arange(SLOTS) < 3000
    live[:50] = False  # e.g. not found
    vectors = [
        ts.ckks_vector_from(context, ts.ckks_vector(keys.context, f.tolist()).serialize())
        for f in features
    ]
    zero = encrypt_zero(context, CKKS_SCORE) if made_ahead else None
    out = decrypt(score_block(zero, vectors, weights, zone_part, live, STDDEV, context))
    expected = weights[0] * features[0] + weights[1] * features[1] + zone_part
    error = out[live] - expected[live]
    assert abs(error.mean()) < 4 * STDDEV / np.sqrt(live.sum())
    assert 0.9 * STDDEV < error.std() < 1.1 * STDDEV
    masked = out[~live]
    assert np.abs(masked).max() <= FILL_BOUND * 1.001
    assert np.abs(masked).mean() > FILL_BOUND / 4  # nothing of the caller's part shows


def test_a_model_without_caller_features_returns_the_zone_part() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    zone_part = np.linspace(-3, 3, SLOTS)
    live = np.ones(SLOTS, dtype=bool)
    out = decrypt(protect(encrypt_zero(context, CKKS_SCORE), None, zone_part, live, STDDEV))
    assert 0.9 * STDDEV < (out - zone_part).std() < 1.1 * STDDEV


def test_replies_encrypted_directly_are_fresh_and_need_a_context() -> None:
    """No zero ready: each reply is a new public-key encryption (never the same twice)."""
    context = hekit.zone_context(CKKS_SCORE.name)
    zone_part = np.zeros(SLOTS)
    live = np.ones(SLOTS, dtype=bool)
    blobs = {
        bytes(protect(None, None, zone_part, live, 0.0, context=context).serialize())
        for _ in range(3)
    }
    assert len(blobs) == 3  # zero noise, same values: only the encryption's randomness differs
    with pytest.raises(ValueError):
        protect(None, None, zone_part, live, STDDEV)


# --- packed calls: several caller features per ciphertext (lanes) ------------------------------


def packed_model(weights: list[float]) -> ScoreModel:
    features = tuple(CallerFeature(name=f"f{j}", bounds=(0.0, 1.0)) for j in range(len(weights)))
    return ScoreModel("product", "logit", features, tuple(weights), (), (), 0.0, STDDEV)


def packed_input(keys: object, columns: np.ndarray, lanes: int) -> list[list[object]]:
    """The SDK's packed ciphertexts, loaded as the zone loads them (leader of each group)."""
    context = hekit.zone_context(CKKS_SCORE.name)
    blobs = encrypt_packed(keys, [c.tolist() for c in columns], lanes)  # type: ignore[arg-type]
    return [
        [load_vector(context, CKKS_SCORE, blobs[j // lanes], "f")] if j % lanes == 0 else []
        for j in range(len(columns))
    ]


@pytest.mark.parametrize(("lanes", "count"), [(2, 2048), (3, 1365), (2, 5)])
def test_packed_lanes_sum_to_the_same_logits(lanes: int, count: int) -> None:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    rng = np.random.default_rng(lanes)
    weights = [1.5, -0.75, 0.5]
    columns = rng.random((len(weights), count))
    zone_part = rng.normal(size=count)
    live = np.ones(count, dtype=bool)
    live[: max(1, count // 10)] = False  # e.g. consent refused
    model = packed_model(weights)
    zero = encrypt_zero(hekit.zone_context(CKKS_SCORE.name), CKKS_SCORE)
    (blob,) = answer_scores(
        CKKS_SCORE, model, packed_input(keys, columns, lanes), zone_part, live, [zero], lanes
    )
    out = np.array(ts.ckks_vector_from(keys.context, blob).decrypt())
    width = SLOTS // lanes
    lane_values = out[: lanes * width].reshape(lanes, width)[:, :count]
    logits = lane_values.sum(axis=0)
    expected = np.asarray(weights) @ columns + zone_part
    error = logits[live] - expected[live]
    if live.sum() > 100:
        assert 0.85 * STDDEV < error.std() < 1.15 * STDDEV
    assert np.abs(error).max() < 6 * STDDEV
    # Every slot but the live subjects' in each lane is filled, as in the unpacked layout:
    # refused subjects show nothing of the caller's part in any lane. Checked per value (the
    # part is below 10, the fill uniform in +-2^30: a false failure has chance 1e-6 a slot),
    # since a mean over a few refused slots falls below FILL_BOUND / 4 by chance (3% for two).
    assert np.abs(lane_values[:, ~live]).min() > 1_000
    readable = np.zeros(SLOTS, dtype=bool)
    for lane in range(lanes):
        readable[lane * width : lane * width + count] = live
    assert np.abs(out[~readable]).mean() > FILL_BOUND / 4
    assert np.abs(out[readable]).max() < 10  # the lanes' partial sums: w . x, no fill


def test_lanes_are_checked_against_the_call() -> None:
    assert check_lanes(0, 4096, 2, SLOTS) == 1
    assert check_lanes(1, 4096, 2, SLOTS) == 1
    assert check_lanes(2, 2048, 2, SLOTS) == 2
    for lanes, count, features in [(3, 10, 2), (2, 2049, 2), (2, 1, 1), (4, 1025, 4)]:
        with pytest.raises(InvalidArgument) as refused:
            check_lanes(lanes, count, features, SLOTS)
        assert refused.value.reason == "bad_lanes"
