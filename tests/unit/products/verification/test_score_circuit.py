"""The CKKS scoring circuit: correct logits, flooding noise of the stated size, masked slots."""

from __future__ import annotations

import hekit
import numpy as np
import tenseal as ts

from zone.products.verification.score import FILL_BOUND, protect, score_block
from zone.wire.fresh import encrypt_zero
from zone.wire.he_params import CKKS_SCORE

SLOTS = CKKS_SCORE.slot_count
STDDEV = 0.01


def decrypt(vector: object) -> np.ndarray:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    return np.array(ts.ckks_vector_from(keys.context, vector.serialize()).decrypt())  # type: ignore[attr-defined]


def test_logits_are_right_up_to_the_stated_noise() -> None:
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
    zero = encrypt_zero(context, CKKS_SCORE)
    out = decrypt(score_block(zero, vectors, weights, zone_part, live, STDDEV))
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
