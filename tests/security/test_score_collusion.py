"""Colluding grant holders averaging Score's resolution noise, through the real server.

Attacker: three operators, each with an ordinary grant on capital-match, its own CKKS keys
and its own consents for the same subjects, pooling their decrypted scores of those subjects
to average the resolution noise away (N colluders with per-principal windows alone would get
N times the scores: noise ``sigma / sqrt(3N)`` instead of ``sigma / sqrt(3)``). Each keeps
scoring until refused.

Measured (run with ``-s``): the three together get exactly 3 scores of each subject (the
zone-wide window, default the per-principal limit of 3); every further call is refused
RESOURCE_EXHAUSTED (the first colluder by its own window, the others by the zone-wide one)
and changes nothing (no check logged, no consent use, no subject scored); the pooled
average's error SD was 0.0276 and 0.0295 in two runs against ``sigma / sqrt(3)`` = 0.0289
(the test checks it is not below 0.85 of that), where 9 scores would give 0.0167.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from scorekit import PRODUCT, RESOLUTION, expected_logit
from zonekit import add_principal, bulk_consents, make_zone_dir, running_zone, target

from zone.client import ResourceExhaustedError, ZoneClient
from zone.server.app import RunningZone

COLLUDERS = ("mallory-1", "mallory-2", "mallory-3")
SUBJECTS = 300


@dataclass
class Zone:
    running: RunningZone
    tokens: dict[str, str]
    rows: list[dict[str, str]]

    def caller(self, who: str) -> ZoneClient:
        return ZoneClient(target(self.running), token=self.tokens[who], timeout=60)

    def count(self, sql: str) -> int:
        with self.running.services.store.read() as tx:
            return int(tx.execute(sql).fetchone()[0])

    def state(self) -> list[int]:
        """Checks logged, calls with consent, consent uses and subjects scored, so far."""
        return [
            self.count("SELECT count(*) FROM verification_checks"),
            self.count("SELECT count(*) FROM consent_calls"),
            self.count("SELECT coalesce(sum(uses), 0) FROM consents"),
            self.count("SELECT coalesce(sum(scored), 0) FROM verification_score_usage"),
        ]


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zone]:
    config = make_zone_dir(tmp_path_factory.mktemp("score-collusion"), rows=600)
    tokens = {who: add_principal(config, who, products=(PRODUCT,)) for who in COLLUDERS}
    with (config.parent / "enterprises.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    with running_zone(config) as running:
        yield Zone(running, tokens, rows)


def test_colluders_average_over_the_zone_wide_window_only(zone: Zone) -> None:
    picked = zone.rows[:SUBJECTS]
    subjects = [r["uscc"] for r in picked]
    zeros = [0.0] * SUBJECTS
    scores: list[list[float]] = []
    refused = []
    for who in COLLUDERS:
        caller = zone.caller(who)
        keys = caller.he.new_keys("ckks-8192")
        caller.register_key(keys)
        ids = bulk_consents(zone.running, who, PRODUCT, subjects, "pool", max_uses=10)
        while True:
            before = zone.state()
            try:
                results = caller.score_batch(PRODUCT, keys, subjects,
                                             {"loan_amount": zeros, "days_overdue": zeros},
                                             purpose="pool", consents=ids)  # fmt: skip
            except ResourceExhaustedError as exc:
                zone_wide = "by all callers together" in exc.message
                refused.append((who, "zone-wide" if zone_wide else "own"))
                assert zone.state() == before  # a refused call changes nothing
                break
            assert all(r.status == "SCORED" for r in results)
            scores.append([float(r.logit) for r in results])
    uses = zone.count("SELECT coalesce(sum(uses), 0) FROM consents")
    print(f"\nscores per subject pooled by {len(COLLUDERS)} colluders: {len(scores)}; "
          f"refusals {refused}; consent uses {uses}")  # fmt: skip
    assert len(scores) == 3 and uses == 3 * SUBJECTS
    # The first one fills its own window (and the zone's); the others find the zone's full.
    assert refused == [("mallory-1", "own"), ("mallory-2", "zone-wide"),
                       ("mallory-3", "zone-wide")]  # fmt: skip
    truth = np.array([expected_logit(r, 0.0, 0.0) for r in picked])
    pooled = np.mean(np.array(scores), axis=0)
    measured = float((pooled - truth).std())
    print(f"pooled error SD {measured:.4f}; sigma/sqrt(3) {RESOLUTION / np.sqrt(3):.4f}")
    # n = 300 draws: the sample SD is above 0.85 x the true SD with probability > 1 - 1e-4.
    assert measured > 0.85 * RESOLUTION / np.sqrt(3)
