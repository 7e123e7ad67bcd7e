"""The BFV match circuit: right answers at every tolerance and its edges, masks, noise budget."""

from __future__ import annotations

import hekit
import numpy as np
import pytest
import tenseal as ts

from zone.catalog._verification import MAX_CLAIM_CODE, MAX_TOLERANCE
from zone.products.verification.match import claim_codes, match_block
from zone.wire.fresh import encrypt_zero
from zone.wire.he_params import BFV_MATCH

P = BFV_MATCH.plain_modulus
SLOTS = BFV_MATCH.slot_count
USED = 3000  # slots beyond are unused and must be masked
MIN_BUDGET_BITS = 20


def centred(values: list[int]) -> np.ndarray:
    return np.mod(np.array(values, dtype=np.int64), P)


def scenario(tolerance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recorded codes, claimed codes, live) with every difference -(t+1) .. t+1 many times."""
    rng = np.random.default_rng(tolerance)
    recorded = rng.integers(-MAX_CLAIM_CODE + 10, MAX_CLAIM_CODE - 10, SLOTS)
    diffs = np.arange(-(tolerance + 1), tolerance + 2)
    claimed = recorded + np.resize(diffs, SLOTS)
    # The extremes of the code range: far apart (no match) and at the tolerance (match).
    recorded[:4] = [MAX_CLAIM_CODE, -MAX_CLAIM_CODE, MAX_CLAIM_CODE, -MAX_CLAIM_CODE]
    claimed[:4] = [-MAX_CLAIM_CODE, MAX_CLAIM_CODE, MAX_CLAIM_CODE - tolerance, -MAX_CLAIM_CODE]
    live = np.arange(SLOTS) < USED
    live[10:20] = False  # e.g. subjects not found
    return recorded, claimed, live


@pytest.mark.parametrize("tolerance", range(MAX_TOLERANCE + 1))
def test_match_at_every_tolerance_and_its_edges(tolerance: int) -> None:
    keys = hekit.caller_keys(BFV_MATCH.name)
    context = hekit.zone_context(BFV_MATCH.name)
    recorded, claimed, live = scenario(tolerance)
    vector = ts.bfv_vector_from(context, ts.bfv_vector(keys.context, claimed.tolist()).serialize())
    zeros = [encrypt_zero(context, BFV_MATCH) for _ in range(2 * tolerance + 1)]
    replies = match_block(
        context, vector, recorded.astype(np.int64), live, tolerance, BFV_MATCH, zeros
    )
    assert len(replies) == 2 * tolerance + 1
    for reply in replies:
        assert hekit.noise_budget(keys, reply) >= MIN_BUDGET_BITS
    decrypted = np.stack(
        [centred(ts.bfv_vector_from(keys.context, r.serialize()).decrypt()) for r in replies]
    )
    zeros = (decrypted == 0).sum(axis=0)
    should_match = live & (np.abs(claimed - recorded) <= tolerance)
    assert np.array_equal(zeros[should_match], np.ones(should_match.sum()))
    assert not zeros[~should_match].any()  # no match, masked and unused slots: never zero
    assert should_match.any() and (live & ~should_match).any()
    # Non-zero answers look uniform on 1 .. p-1 (mean near p/2), masked ones too.
    for values in (decrypted[:, live & ~should_match], decrypted[:, ~live]):
        assert 0.45 < values.mean() / P < 0.55
        assert len(np.unique(values)) > 0.99 * values.size


def test_position_of_the_zero_tells_nothing() -> None:
    keys = hekit.caller_keys(BFV_MATCH.name)
    context = hekit.zone_context(BFV_MATCH.name)
    recorded = np.zeros(SLOTS, dtype=np.int64)
    live = np.ones(SLOTS, dtype=bool)
    vector = ts.bfv_vector_from(context, ts.bfv_vector(keys.context, [1] * SLOTS).serialize())
    zeros = [encrypt_zero(context, BFV_MATCH) for _ in range(5)]
    replies = match_block(context, vector, recorded, live, 2, BFV_MATCH, zeros)
    decrypted = np.stack(
        [centred(ts.bfv_vector_from(keys.context, r.serialize()).decrypt()) for r in replies]
    )
    positions = np.argmax(decrypted == 0, axis=0)  # d = 1 matches at one random candidate
    counts = np.bincount(positions, minlength=5)
    assert counts.min() > SLOTS / 5 * 0.8


def test_codes_of_recorded_values() -> None:
    values = np.array([123.45, 0.07, 100000.0, np.nan, 0.005, 1e12, -3.2])
    codes, ok = claim_codes(values, 0.01)
    assert ok.tolist() == [True, True, True, False, False, False, True]
    assert codes[ok].tolist() == [12345, 7, 10_000_000, -320]
    assert not codes[~ok].any()
