"""Score calls whose circuit runs in the worker processes: the crafted-input attack, and answers.

Calls of at least ``score_workers.MIN_SUBJECTS`` subjects are computed in the verification
worker processes (``zone.products.verification.score_workers``); smaller calls run in the
handler thread and are attacked in tests/security/test_score_attacks.py. The attacker here
holds its own secret key and sends ciphertexts with c0 = 0 and c1 = j * q_last, which pass
every check; from a naive reply it would read the zone's weights and records exactly.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import hekit
import numpy as np
import pytest
import tenseal as ts
from scorekit import MODEL, PRODUCT, RESOLUTION, expected_logit
from zonekit import TOKENS, client, make_zone_dir, running_zone, target

from zone._proto import verification_pb2, verification_pb2_grpc
from zone.products.verification.score_workers import MIN_SUBJECTS
from zone.server.app import RunningZone
from zone.wire.he_params import CKKS_SCORE
from zone.wire.replies import FOUND

SLOTS = CKKS_SCORE.slot_count


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningZone]:
    config = make_zone_dir(tmp_path_factory.mktemp("score-workers"))
    product = config.parent / "models" / "capital-match.yaml"
    product.write_text(product.read_text().replace("consent: operator", "consent: none"))
    with running_zone(config) as running:
        yield running


@pytest.fixture(scope="module")
def rows(zone: RunningZone) -> Iterator[dict[str, str]]:
    path = Path(zone.services.config.datasets_db).parent / "enterprises.csv"
    with path.open() as handle:
        return iter(list(csv.DictReader(handle)))


def dispatched(zone: RunningZone) -> int:
    return zone.services.verification._dispatch.dispatched


def crafted(multiple: int) -> bytes:
    q_last = CKKS_SCORE.coeff_modulus[-2]  # the data prime the multiplication rescales away
    return hekit.crafted_input(CKKS_SCORE, multiple * q_last)


def attack(reply_blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Read the zone's plaintexts off a reply to inputs with c0 = 0 and c1 = j * q_last."""
    keys = hekit.caller_keys(CKKS_SCORE.name)
    vector = ts.ckks_vector_from(keys.context, reply_blob)
    weights = hekit.decode_ckks_polynomial(vector, 1, CKKS_SCORE.scale)
    zone_part = hekit.decode_ckks_polynomial(vector, 0, CKKS_SCORE.scale)
    return weights, zone_part


def request(keys: Any, subjects: list[str], blocks: list[list[bytes]], lanes: int) -> Any:
    return verification_pb2.ScoreRequest(
        product=PRODUCT, key_id=keys.key_id, purpose="attack", subjects=subjects, lanes=lanes,
        features=[verification_pb2.Ciphertexts(name="loan_amount", blocks=blocks[0]),
                  verification_pb2.Ciphertexts(name="days_overdue", blocks=blocks[1])],
    )  # fmt: skip


@pytest.mark.parametrize("lanes", [0, 2])
def test_crafted_inputs_computed_in_a_worker_recover_nothing(
    zone: RunningZone, rows: Iterator[dict[str, str]], lanes: int
) -> None:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    if not keys.key_id:
        client(zone, "bank").register_key(keys)
    count = MIN_SUBJECTS + 36
    subjects = [next(rows)["uscc"] for _ in range(count)]
    blocks = [[crafted(1)], [crafted(2)]] if lanes == 0 else [[crafted(1)], []]
    stub = verification_pb2_grpc.VerificationServiceStub(grpc.insecure_channel(target(zone)))
    before = dispatched(zone)
    reply = stub.Score(request(keys, subjects, blocks, lanes), timeout=60,
                       metadata=(("authorization", f"Bearer {TOKENS['bank']}"),))  # fmt: skip
    assert dispatched(zone) == before + 1  # the circuit ran in a worker process
    live = np.array(reply.status) == FOUND  # scored
    assert live.sum() > count // 2
    recovered, records = attack(reply.logits[0])
    loan, overdue = MODEL["weights"]["loan_amount"], MODEL["weights"]["days_overdue"]
    if lanes == 0:
        assert np.all(np.abs(recovered[:count][live] - (loan + 2 * overdue)) > 1e3)
    else:
        width = SLOTS // 2
        assert np.all(np.abs(recovered[:count][live] - loan) > 1e3)
        assert np.all(np.abs(recovered[width : width + count][live] - overdue) > 1e3)
        assert np.all(np.abs(records[width : width + count][live]) > 1e3)
    assert np.all(np.abs(records[:count][live]) > 1e3)  # logits are a few units: nothing left


def test_scores_computed_in_a_worker_are_the_models_logits(
    zone: RunningZone, rows: Iterator[dict[str, str]]
) -> None:
    bank = client(zone, "bank")
    keys = bank.he.new_keys("ckks-8192")
    bank.register_key(keys)
    picked = [next(rows) for _ in range(200)]
    loans = [float(100 + 20 * i) for i in range(len(picked))]  # within the public bounds
    overdue = [float(i % 90) for i in range(len(picked))]
    before = dispatched(zone)
    report = bank.score_batch(PRODUCT, keys, [r["uscc"] for r in picked],
                              {"loan_amount": loans, "days_overdue": overdue},
                              purpose="workers")  # fmt: skip
    assert dispatched(zone) == before + 1
    scored = 0
    for row, loan, days, result in zip(picked, loans, overdue, report, strict=True):
        if result.status != "SCORED":
            continue
        scored += 1
        assert result.logit is not None
        assert abs(result.logit - expected_logit(row, loan, days)) < 6 * RESOLUTION
    assert scored > 100
