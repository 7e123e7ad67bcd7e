"""Score's circuit in the verification worker processes: same answer, public inputs only.

The workers are real spawned processes (``wiring.match_workers``); the answers are decrypted
with the caller's key and compared with the model's logit, as the inline path's tests do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace

import hekit
import numpy as np
import pytest
import tenseal as ts

from zone.products.verification.models import ScoreModel
from zone.products.verification.score_workers import (
    MIN_SUBJECTS,
    ContextMissing,
    ScoreDispatch,
    ScoreTask,
    run_score,
)
from zone.products.verification.workers import MatchWorkers
from zone.server.wiring import match_workers
from zone.wire.he_params import CKKS_SCORE

SLOTS = CKKS_SCORE.slot_count
WEIGHTS = (1.5, -0.75)
NOISE = 0.01


def model() -> ScoreModel:
    return ScoreModel("product", "identity", (), WEIGHTS, (), (), 0.0, NOISE)


def encrypt(values: np.ndarray) -> bytes:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    return bytes(ts.ckks_vector(keys.context, values.tolist()).serialize())


def decrypt(blob: bytes) -> np.ndarray:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    return np.array(ts.ckks_vector_from(keys.context, blob).decrypt())


@pytest.fixture(scope="module")
def workers() -> Iterator[MatchWorkers]:
    pool = match_workers(2)
    yield pool
    pool.close()


def public_blob() -> bytes:
    context = hekit.zone_context(CKKS_SCORE.name)
    return bytes(
        context.serialize(save_public_key=True, save_secret_key=False, save_galois_keys=False,
                          save_relin_keys=False)
    )  # fmt: skip


@pytest.mark.parametrize("lanes", [1, 2])
def test_a_worker_answers_what_the_model_says(workers: MatchWorkers, lanes: int) -> None:
    count = 300
    rng = np.random.default_rng(5)
    x = rng.random((2, count))
    zone_part = rng.normal(0, 1, count)
    live = np.ones(count, dtype=bool)
    live[7] = False  # a subject not admitted: its slot gets the fill, not its score
    if lanes == 1:
        planes = [np.zeros(SLOTS), np.zeros(SLOTS)]
        planes[0][:count], planes[1][:count] = x[0], x[1]
        blobs = [[encrypt(planes[0])], [encrypt(planes[1])]]
    else:
        packed = np.zeros(SLOTS)
        packed[:count], packed[SLOTS // 2 : SLOTS // 2 + count] = x[0], x[1]
        blobs = [[encrypt(packed)], []]
    dispatch = ScoreDispatch(workers)
    assert dispatch.remote(count) and not dispatch.remote(MIN_SUBJECTS - 1)
    context = hekit.zone_context(CKKS_SCORE.name)
    (reply,) = dispatch.answer("k", context, CKKS_SCORE, blobs, model(), zone_part, live, [],
                               lanes)  # fmt: skip
    values = decrypt(reply)
    if lanes == 2:
        values = values[:count] + values[SLOTS // 2 : SLOTS // 2 + count]
    expected = WEIGHTS[0] * x[0] + WEIGHTS[1] * x[1] + zone_part
    assert np.abs(values[:count] - expected)[live].max() < 10 * NOISE
    assert abs(values[7] - expected[7]) > 1e3  # the fill (uniform on +-2^30)
    assert dispatch.dispatched == 1


def test_a_worker_without_the_context_is_sent_it_once(workers: MatchWorkers) -> None:
    dispatch = ScoreDispatch(workers)
    context = hekit.zone_context(CKKS_SCORE.name)
    blob = encrypt(np.full(SLOTS, 0.5))
    for _ in range(4):  # whichever worker takes it, each call is answered
        (reply,) = dispatch.answer("k", context, CKKS_SCORE, [[blob], []], model(),
                                   np.zeros(100), np.ones(100, dtype=bool), [], 2)  # fmt: skip
        values = decrypt(reply)
        assert abs(values[0] + values[SLOTS // 2] - 0.5 * (WEIGHTS[0] + WEIGHTS[1])) < 10 * NOISE
    task = ScoreTask(hashlib.sha256(b"other").hexdigest(), None, CKKS_SCORE.name, ((blob,), ()),
                     model(), np.zeros(1), np.ones(1, dtype=bool), (), 2)  # fmt: skip
    with pytest.raises(ContextMissing):
        run_score(task)
    with pytest.raises(ValueError, match="digest"):  # a context that is not the one named
        run_score(replace(task, context=public_blob()))
    secret = bytes(hekit.caller_keys(CKKS_SCORE.name).context.serialize(save_secret_key=True))
    with pytest.raises(ValueError, match="secret key"):
        run_score(replace(task, digest=hashlib.sha256(secret).hexdigest(), context=secret))
