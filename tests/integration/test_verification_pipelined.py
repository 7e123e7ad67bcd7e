"""The SDK's pipelined verification calls against a real server: order, answers, threads.

A long subject list goes in several calls, up to ``in_flight`` at a time; each answer must
come back to its own subjects, and pipelining must not start a thread per call.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from scorekit import PRODUCT, RESOLUTION, expected_logit
from zonekit import client, demo_rows, make_zone_dir, running_zone

from zone.server.app import RunningZone


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningZone]:
    with running_zone(make_zone_dir(tmp_path_factory.mktemp("pipelined"))) as running:
        yield running


def test_pipelined_scores_come_back_to_their_subjects_on_kept_threads(
    zone: RunningZone,
) -> None:
    picked = demo_rows(zone)[300:307]
    subjects = [r["uscc"] for r in picked]
    bank = client(zone, "bank")
    keys = bank.he.new_keys("ckks-8192")
    bank.register_key(keys)
    until = datetime.now(UTC) + timedelta(hours=1)
    ids = [bank.register_consent(PRODUCT, s, purpose="pipelined", not_after=until,
                                 letter_sha256="ab" * 32, max_uses=3).consent
           for s in subjects]  # fmt: skip
    # The SDK splits by the product's max_subjects_per_call: 2 here, so 4 calls per run.
    parameters = copy.deepcopy(bank._parameters(PRODUCT))
    parameters["limits"]["max_subjects_per_call"] = 2
    bank._product_parameters[PRODUCT] = parameters
    loans = [100.0 * (i + 1) for i in range(len(subjects))]
    overdue = [30.0 * i for i in range(len(subjects))]

    def call_threads() -> set[int]:
        return {t.ident or 0 for t in threading.enumerate() if t.name.startswith("zone-call")}

    others = call_threads()  # other clients' threads (earlier tests) are not counted
    kept: set[int] = set()
    for in_flight in (1, 2, 3):
        report = bank.score_batch(
            PRODUCT, keys, subjects, {"loan_amount": loans, "days_overdue": overdue},
            purpose="pipelined", consents=ids, in_flight=in_flight,
        )  # fmt: skip
        assert len(report.release_ids) == 4 and report.subjects == subjects
        for row, loan, days, result in zip(picked, loans, overdue, report, strict=True):
            assert result.status == "SCORED"
            assert abs(result.logit - expected_logit(row, loan, days)) < 6 * RESOLUTION + 1e-3
        kept |= call_threads() - others
    assert 1 <= len(kept) <= 3  # 12 calls, pipelined ones on at most 3 threads, kept
