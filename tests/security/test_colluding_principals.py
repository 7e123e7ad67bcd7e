"""Colluding grant holders against the per-subject windows of Match, through the real server.

Per-principal windows alone give N colluding principals N windows per subject: N times the
guesses about each recorded value. The zone-wide window (``zone_checks_per_subject``, default
the per-principal limit) bounds the checks of one subject by all principals together. Here
three principals pool their calls on the same subjects, each guessing other values: they get
exactly the zone-wide number of answers per subject and window, never more; the refused calls
change nothing (no check logged, nothing charged); each principal's own window still holds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from zonekit import add_principal, make_zone_dir, running_zone, target

from zone.client import ResourceExhaustedError, ZoneClient
from zone.server.app import RunningZone

PRODUCT = """id: {id}
kind: verification
dataset: enterprises
description: employee checks without consent (collusion tests)
key: uscc
claims: {{employees: {{tolerance: 0}}}}
limits: {{checks_per_subject: 2, window_hours: 24{zone}}}
consent: none
"""
DEFAULT, DECLARED = "employees-open", "employees-shared"
COLLUDERS = ("mallory-1", "mallory-2", "mallory-3")


@dataclass
class Zone:
    running: RunningZone
    tokens: dict[str, str]
    truth: dict[str, int]

    def caller(self, who: str) -> ZoneClient:
        return ZoneClient(target(self.running), token=self.tokens[who], timeout=60)

    def logged(self) -> int:
        with self.running.services.store.read() as tx:
            return int(tx.execute("SELECT count(*) FROM verification_checks").fetchone()[0])


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zone]:
    config = make_zone_dir(tmp_path_factory.mktemp("collusion"), rows=500)
    models = config.parent / "models"
    (models / f"{DEFAULT}.yaml").write_text(PRODUCT.format(id=DEFAULT, zone=""))
    (models / f"{DECLARED}.yaml").write_text(
        PRODUCT.format(id=DECLARED, zone=", zone_checks_per_subject: 3")
    )
    tokens = {who: add_principal(config, who, products=(DEFAULT, DECLARED)) for who in COLLUDERS}
    with (config.parent / "enterprises.csv").open() as handle:
        truth = {row["uscc"]: int(row["employees"]) for row in csv.DictReader(handle)}
    with running_zone(config) as running:
        yield Zone(running, tokens, truth)


def pooled_guesses(zone: Zone, product: str, subjects: list[str]) -> dict[str, list[int]]:
    """Every colluder keeps guessing other values until refused; the values answered."""
    answered: dict[str, list[int]] = {s: [] for s in subjects}
    guess = 0
    for who in COLLUDERS:
        caller = zone.caller(who)
        while True:
            values = [zone.truth[s] - 10 + guess for s in subjects]
            try:
                caller.match(product, subjects, {"employees": values}, purpose="collusion")
            except ResourceExhaustedError:
                break
            for subject, value in zip(subjects, values, strict=True):
                answered[subject].append(value)
            guess += 1
    return answered


@pytest.mark.parametrize(("product", "zone_limit"), [(DEFAULT, 2), (DECLARED, 3)])
def test_colluders_share_one_window_per_subject(zone: Zone, product: str, zone_limit: int) -> None:
    subjects = list(zone.truth)[:40] if product == DEFAULT else list(zone.truth)[40:80]
    before = zone.logged()
    answered = pooled_guesses(zone, product, subjects)
    # Three principals with a window of 2 each would get 6 guesses per subject without it.
    assert {len(values) for values in answered.values()} == {zone_limit}
    assert zone.logged() - before == zone_limit  # refused calls logged nothing


def test_the_refusal_names_the_zone_wide_window_and_a_fresh_subject_is_still_served(
    zone: Zone,
) -> None:
    subjects = list(zone.truth)[80:90]
    first, second = zone.caller(COLLUDERS[0]), zone.caller(COLLUDERS[1])
    claims = {"employees": [zone.truth[s] for s in subjects]}
    for _ in range(2):
        first.match(DEFAULT, subjects, claims, purpose="collusion")
    with pytest.raises(ResourceExhaustedError) as refused:
        second.match(DEFAULT, subjects, claims, purpose="collusion")
    assert "by all callers together" in str(refused.value)
    report = second.match(DEFAULT, list(zone.truth)[90:92], {"employees": [1, 1]}, purpose="x")
    assert len(report.statuses) == 2
