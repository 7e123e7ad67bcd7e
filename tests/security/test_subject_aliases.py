"""Other spellings of a subject's key: no answer about the subject, no window, no consent of it.

Attacker: an operator with an ordinary grant on capital-match (Match and Score, operator
consent), its own CKKS keys and consents it registers itself for any text it likes (the zone
does not check a consent's subject against the dataset: that would tell membership). It
spells a registered subject's key the ways a careless normaliser would fold together (leading
or trailing space, lower case, full-width characters; other spaces and format characters
such as a zero-width space cannot even be registered as a consent subject: not printable),
hoping that (a) each spelling gets its own per-subject window but answers about the same
subject, so that checks and scores can be repeated beyond the window, or (b) a consent
registered for one spelling admits another.

Measured (run with ``-s``): every alias of 20 subjects (4 spellings each) reads NOT_FOUND in
Match (three calls, with the true claimed value: 0 matches of 80 each time) and Score (0 of 20
scored), and the real keys still have their whole window (3 checks, then refused) and their
consents every use. Keys are compared exactly (``records.ProductRecords.lookup``), windows
and consents count by the same exact key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import pytest
from zonekit import bulk_consents, client, demo_rows, make_zone_dir, running_zone

from zone.client import ResourceExhaustedError
from zone.server.app import RunningZone

PRODUCT = "capital-match"
SUBJECTS = 20


def aliases(key: str) -> list[str]:
    """Spellings that strip / casefold / NFKC normalisation would take for ``key``."""
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in key)
    spelled = [f" {key}", f"{key} ", key.lower(), fullwidth]
    return [a for a in spelled if a != key]


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningZone]:
    config = make_zone_dir(tmp_path_factory.mktemp("aliases"), rows=600)
    with running_zone(config) as running:
        yield running


@pytest.fixture(scope="module")
def rows(zone: RunningZone) -> list[dict[str, str]]:
    found = [
        r for r in demo_rows(zone) if r["employees"] != "" and any(c.isalpha() for c in r["uscc"])
    ]
    assert len(found) >= 2 * SUBJECTS
    return found


def test_aliases_get_no_match_and_use_no_window_of_the_subject(
    zone: RunningZone, rows: list[dict[str, str]]
) -> None:
    picked = rows[:SUBJECTS]
    keys = [r["uscc"] for r in picked]
    truth = [int(r["employees"]) for r in picked]
    bank = client(zone, "bank")
    spelled = [(a, t) for key, t in zip(keys, truth, strict=True) for a in aliases(key)]
    for alias, _ in spelled[:: len(spelled) // 6]:  # the spellings do fold to the key
        assert unicodedata.normalize("NFKC", alias).strip().upper() in keys
    subjects = [a for a, _ in spelled]
    ids = bulk_consents(zone, "bank-a", PRODUCT, subjects, "aliases", max_uses=3)
    for _ in range(3):  # the whole window of each spelling, were they one subject
        report = bank.match(PRODUCT, subjects, {"employees": [t for _, t in spelled]},
                            purpose="aliases", consents=ids)  # fmt: skip
        statuses = [r.status for r in report]
        print(f"\naliases: {statuses.count('MATCH')} MATCH of {len(statuses)}")
        assert set(statuses) == {"NOT_FOUND"}
    # The real keys: their consents unused by the aliases, their window whole.
    own = bulk_consents(zone, "bank-a", PRODUCT, keys, "aliases", max_uses=4)
    for _ in range(3):
        report = bank.match(PRODUCT, keys, {"employees": truth}, purpose="aliases",
                            consents=own)  # fmt: skip
        assert [r.status for r in report] == ["MATCH"] * SUBJECTS
    with pytest.raises(ResourceExhaustedError, match="already checked"):
        bank.match(PRODUCT, keys, {"employees": truth}, purpose="aliases", consents=own)


def test_a_consent_for_one_spelling_admits_no_other(
    zone: RunningZone, rows: list[dict[str, str]]
) -> None:
    picked = rows[SUBJECTS : 2 * SUBJECTS]
    keys = [r["uscc"] for r in picked]
    bank = client(zone, "bank")
    own = bulk_consents(zone, "bank-a", PRODUCT, keys, "spelling", max_uses=1)
    for position in range(len(aliases(keys[0]))):
        spelled = [aliases(key)[position % len(aliases(key))] for key in keys]
        report = bank.match(PRODUCT, spelled, {"employees": [0] * SUBJECTS},
                            purpose="spelling", consents=own)  # fmt: skip
        assert {r.status for r in report} == {"CONSENT_REFUSED"}
    for consent in own:  # no use taken by any spelling
        assert bank.describe_consent(consent).uses == 0
    report = bank.match(PRODUCT, keys, {"employees": [int(r["employees"]) for r in picked]},
                        purpose="spelling", consents=own)  # fmt: skip
    assert [r.status for r in report] == ["MATCH"] * SUBJECTS


def test_aliases_get_no_score(zone: RunningZone, rows: list[dict[str, str]]) -> None:
    picked = rows[2 * SUBJECTS : 2 * SUBJECTS + 5]
    bank = client(zone, "bank")
    keys = bank.he.new_keys("ckks-8192")
    bank.register_key(keys)
    subjects = [a for r in picked for a in aliases(r["uscc"])]
    ids = bulk_consents(zone, "bank-a", PRODUCT, subjects, "score aliases", max_uses=1)
    zeros = [0.0] * len(subjects)
    results = bank.score_batch(PRODUCT, keys, subjects,
                               {"loan_amount": zeros, "days_overdue": zeros},
                               purpose="score aliases", consents=ids)  # fmt: skip
    assert {r.status for r in results} == {"NOT_FOUND"}
    assert all(r.logit is None for r in results)
