"""VerificationService end to end: real server, blinded claims and keys on the caller's side.

Consent refusals, hostile elements and the attacks: tests/integration/test_consent_api.py and
tests/security/test_match_attacks.py.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from scorekit import BOUNDS, PRODUCT, RESOLUTION, expected_logit, save_kept_model
from zonekit import (
    add_principal,
    bulk_consents,
    client,
    demo_rows,
    make_zone_dir,
    running_zone,
    target,
)

from zone._proto import verification_pb2, verification_pb2_grpc
from zone.client import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ZoneClient,
)
from zone.client.he import HEKeys
from zone.client.match import match_requests
from zone.products.verification.limits import subjects_digest
from zone.server.app import RunningZone

HIDDEN = """id: capital-hidden
kind: verification
dataset: enterprises
description: capital checks that do not tell who is registered
key: uscc
claims: {registered_capital: {tolerance: 0, unit: 0.01}, employees: {tolerance: 1}}
limits: {checks_per_subject: 2, window_hours: 24, max_subjects_per_call: 1000}
membership: hidden
consent: none
"""


@pytest.fixture(scope="module")
def zone_and_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, str]]:
    config = make_zone_dir(tmp_path_factory.mktemp("verification"))
    (config.parent / "models" / "capital-hidden.yaml").write_text(HIDDEN)
    hidden = add_principal(config, "hidden-bank", products=("capital-hidden",))
    with running_zone(config) as running:
        yield running, hidden


@pytest.fixture(scope="module")
def zone(zone_and_tokens: tuple[RunningZone, str]) -> RunningZone:
    return zone_and_tokens[0]


@pytest.fixture(scope="module")
def rows(zone: RunningZone) -> list[dict[str, str]]:
    return demo_rows(zone)


@pytest.fixture(scope="module")
def ckks(zone: RunningZone) -> HEKeys:
    bank = client(zone, "bank")
    keys = bank.he.new_keys("ckks-8192")
    bank.register_key(keys, chunk_bytes=128 * 1024)  # several chunks
    return keys


def consents(zone: RunningZone, subjects: list[str], purpose: str) -> list[str]:
    """Consents of bank-a's subjects for capital-match, registered through the API."""
    bank = client(zone, "bank")
    until = datetime.now(UTC) + timedelta(hours=1)
    return [
        bank.register_consent(PRODUCT, s, purpose=purpose, not_after=until,
                              letter_sha256=hashlib.sha256(s.encode()).hexdigest()).consent
        for s in subjects
    ]  # fmt: skip


def state(zone: RunningZone, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(zone.services.config.state_db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def receipts(zone: RunningZone, product: str = PRODUCT) -> list[dict[str, Any]]:
    found = state(zone, "SELECT record FROM audit_log WHERE kind = 'release' ORDER BY seq")
    return [r for (text,) in found if (r := json.loads(text)).get("product") == product]


def test_registered_key_is_public_and_described(zone: RunningZone, ckks: HEKeys) -> None:
    info = client(zone, "bank").describe_key(ckks.key_id)
    public = ckks.public_context()
    assert info.sha256 == hashlib.sha256(public).hexdigest() and info.size_bytes == len(public)
    assert info.param_set == "ckks-8192" and not info.revoked_at
    for context in zone.services.verification.keys._cache.values():
        assert not context.is_private() and not context.has_secret_key()


def test_match_claims_edges_and_unknown_subjects(
    zone: RunningZone, rows: list[dict[str, str]]
) -> None:
    picked = rows[:6]
    subjects = [r["uscc"] for r in picked] + ["91000000000000000X"]
    capital = [float(r["registered_capital"]) for r in picked] + [1.0]
    capital[1] += 0.01  # one unit off: no match on an exact claim
    employees = [int(r["employees"]) + d for r, d in zip(picked, [0, 0, 2, -2, 3, -3], strict=True)]
    ids = consents(zone, subjects, "loan application 1")
    results = client(zone, "bank").match(
        PRODUCT, subjects, {"registered_capital": capital, "employees": [*employees, 1]},
        purpose="loan application 1", consents=ids,
    )  # fmt: skip
    assert [r.status for r in results] == [
        "MATCH", "NO_MATCH", "MATCH", "MATCH", "NO_MATCH", "NO_MATCH", "NOT_FOUND",
    ]  # fmt: skip
    assert results[1].claims == {"registered_capital": False, "employees": True}
    assert results[4].claims == {"registered_capital": True, "employees": False}
    assert results[6].claims == {} and results.membership == "disclosed"
    receipt = receipts(zone)[-1]
    assert receipt["epsilon_micro"] == 0 and receipt["delta_femto"] == 0
    assert receipt["purpose"] == "loan application 1" and receipt["key_id"] == ""
    assert receipt["subjects"] == 7 and receipt["answered"] == 7 and receipt["checked"] == 7
    assert receipt["subjects_digest"] == subjects_digest("\n".join(subjects))
    assert receipt["param_set"] == "oprf-ristretto255-sha512"
    assert receipt["claims"] == ["registered_capital", "employees"]
    assert receipt["tolerances"] == {"registered_capital": 0, "employees": 2}
    assert receipt["membership"] == "disclosed" and receipt["consent_mode"] == "operator"
    assert receipt["consents"] == sorted(ids) and receipt["consent_refusals"] == {}
    logged = state(zone, "SELECT principal, purpose, subjects FROM verification_checks")[-1]
    assert logged == ("bank-a", "loan application 1", "\n".join(subjects))


def test_a_large_call_mixes_known_and_unknown_subjects(
    zone: RunningZone, rows: list[dict[str, str]]
) -> None:
    picked = rows[100:1100]
    subjects = [f"UNKNOWN{i:05d}" for i in range(3000)] + [r["uscc"] for r in picked]
    capital = [1.0] * 3000 + [float(r["registered_capital"]) for r in picked]
    capital[-1] += 0.01
    ids = bulk_consents(zone, "bank-a", PRODUCT, subjects, "batch")
    results = client(zone, "bank").match(
        PRODUCT, subjects, {"registered_capital": capital}, purpose="batch", consents=ids
    )
    assert results.statuses[3000:] == ["MATCH"] * 999 + ["NO_MATCH"]
    assert set(results.statuses[:3000]) == {"NOT_FOUND"}
    assert len(results.release_ids) == 1


def test_hidden_membership_says_nothing_about_unknown_subjects(
    zone_and_tokens: tuple[RunningZone, str], rows: list[dict[str, str]]
) -> None:
    zone, token = zone_and_tokens
    caller = ZoneClient(target(zone), token=token, timeout=30)
    picked = rows[2:5]
    subjects = [r["uscc"] for r in picked] + ["91000000000000000Y", "91000000000000000Z"]
    claims = {"registered_capital": [float(r["registered_capital"]) for r in picked] + [1.0, 2.0],
              "employees": [int(r["employees"]) + 1 for r in picked] + [1, 2]}  # fmt: skip
    claims["registered_capital"][2] += 0.01
    results = caller.match("capital-hidden", subjects, claims, purpose="hidden")
    assert results.statuses == ["MATCH", "MATCH", "NO_MATCH", "NO_MATCH", "NO_MATCH"]
    assert results.membership == "hidden"
    assert results[3].claims == {"registered_capital": False, "employees": False}
    assert receipts(zone, "capital-hidden")[-1]["membership"] == "hidden"
    assert receipts(zone, "capital-hidden")[-1]["answered"] == 5  # not the 3 found
    # On the wire every subject is UNDISCLOSED, known or not.
    parameters = caller.describe_product("capital-hidden").parameters
    ((_, request),) = match_requests("capital-hidden", subjects[:1] + subjects[3:4],
                                     {"employees": [1, 1]}, "hidden", parameters)  # fmt: skip
    stub = verification_pb2_grpc.VerificationServiceStub(grpc.insecure_channel(target(zone)))
    reply = stub.Match(request, metadata=(("authorization", f"Bearer {token}"),), timeout=10)
    assert list(reply.status) == [verification_pb2.UNDISCLOSED] * 2
    # Unknown subjects count against the window exactly like known ones (2 per day here).
    for subject in (subjects[0], subjects[3]):  # both at their limit now
        with pytest.raises(ResourceExhaustedError) as refused:
            caller.match("capital-hidden", [subject], {"employees": [5]}, purpose="hidden")
        assert "subject" in refused.value.message


def test_score_batch_and_single(
    zone: RunningZone, ckks: HEKeys, rows: list[dict[str, str]]
) -> None:
    picked = rows[200:205]
    loans, overdue = [100.0, 2500.0, 5000.0, 9999.0, 0.0], [0.0, 30.0, 365.0, 10.0, 400.0]
    bank = client(zone, "bank")
    subjects = [r["uscc"] for r in picked] + ["UNKNOWN", "NO-CONSENT"]
    ids = consents(zone, subjects[:-1], "scoring") + [""]
    results = bank.score_batch(
        PRODUCT, ckks, subjects,
        {"loan_amount": [*loans, 1.0, 1.0], "days_overdue": [*overdue, 1.0, 1.0]},
        purpose="scoring", consents=ids,
    )  # fmt: skip
    stddev = RESOLUTION
    for row, loan, days, result in zip(picked, loans, overdue, results, strict=False):
        expected = expected_logit(row, min(loan, 5000), min(days, 365))
        assert result.status == "SCORED" and abs(result.logit - expected) < 6 * stddev + 1e-3
        assert result.value == pytest.approx(1 / (1 + np.exp(-result.logit)))
    assert results[-2].status == "NOT_FOUND" and results[-2].logit is None
    assert results[-1] == ("NO-CONSENT", "CONSENT_REFUSED", None, None, "no_consent")
    receipt = receipts(zone)[-1]
    assert receipt["answered"] == 5 and receipt["checked"] == 6 and receipt["subjects"] == 7
    assert receipt["consent_refusals"] == {"no_consent": 1}
    assert receipt["lanes"] == 2  # two caller features in one ciphertext (a packed call)
    (consent,) = consents(zone, [picked[0]["uscc"]], "single")
    one = bank.score(PRODUCT, ckks, picked[0]["uscc"], {"loan_amount": 100.0, "days_overdue": 0},
                     purpose="single", consent=consent)  # fmt: skip
    probability = 1 / (1 + np.exp(-expected_logit(picked[0], 100, 0)))
    assert one == pytest.approx(probability, abs=6 * RESOLUTION / 4)  # |d sigmoid| <= 1/4
    assert receipts(zone)[-1]["model"] == "product"


def keep_model(zone: RunningZone, owner: str) -> tuple[str, dict[str, Any]]:
    """A kept model as a training worker leaves it (the worker process itself is not run)."""
    columns = {c: BOUNDS[c] for c in ("founded_year", "employees", "tax_paid", "penalties")}
    return save_kept_model(zone, owner, columns, [0.3, -1.2, -0.8, 2.0], intercept=-0.5)


def test_score_with_a_kept_model(
    zone: RunningZone, ckks: HEKeys, rows: list[dict[str, str]]
) -> None:
    bank = client(zone, "bank")
    model_id, kept = keep_model(zone, "bank-a")
    picked = rows[300:303]
    with pytest.raises(FailedPreconditionError, match="not approved"):
        bank.score_batch(PRODUCT, ckks, [picked[0]["uscc"]], {}, purpose="x", model_id=model_id)
    admin = client(zone, "admin")
    review = admin.review_model(model_id, PRODUCT)
    assert not review.problems and max(f.share for f in review.features) == pytest.approx(2 / 4.3)
    admin.decide_model(model_id, PRODUCT, approve=True, reason="four features, DP-trained")
    subjects = [r["uscc"] for r in picked]
    ids = consents(zone, subjects, "kept model")
    results = bank.score_batch(
        PRODUCT, ckks, subjects, {}, purpose="kept model", model_id=model_id, consents=ids
    )
    for row, result in zip(picked, results, strict=True):
        inputs = [
            (min(max(float(row[s["column"]]), s["bounds"][0]), s["bounds"][1]) - s["bounds"][0])
            / (s["bounds"][1] - s["bounds"][0])
            for s in kept["scaling"]["features"]
        ]
        expected = kept["intercept"] + float(np.dot(kept["weights"], inputs))
        assert abs(result.logit - expected) < 6 * RESOLUTION + 1e-3
    assert receipts(zone)[-1]["model"] == model_id
    other_id, _ = keep_model(zone, "city-research")
    with pytest.raises(NotFoundError):  # another principal's model: as if unknown
        bank.score_batch(PRODUCT, ckks, subjects[:1], {}, purpose="x", model_id=other_id)


def test_revoked_key_and_ungranted_callers_are_refused(
    zone: RunningZone, rows: list[dict[str, str]]
) -> None:
    bank = client(zone, "bank")
    keys = bank.he.new_keys("ckks-8192")
    bank.register_key(keys)
    assert bank.revoke_key(keys.key_id).revoked_at
    features = {"loan_amount": [1.0], "days_overdue": [1.0]}
    with pytest.raises(FailedPreconditionError):
        bank.score_batch(PRODUCT, keys, [rows[400]["uscc"]], features, purpose="x")
    researcher = client(zone, "researcher")
    with pytest.raises(PermissionDeniedError):
        researcher.match(PRODUCT, [rows[400]["uscc"]], {"employees": [1]}, purpose="x")


def test_matches_are_metered_billed_and_registered(
    zone: RunningZone, rows: list[dict[str, str]]
) -> None:
    token = secrets.token_urlsafe(24)
    policy = Path(zone.services.config.policies_dir) / "metered-bank.yaml"
    policy.write_text(
        "principals:\n"
        "  - {id: metered-bank, role: operator, organisation: test,\n"
        f"     token_sha256: {hashlib.sha256(token.encode()).hexdigest()}}}\n"
        "grants:\n"
        "  - principal: metered-bank\n"
        f"    products: [{PRODUCT}]\n"
        f"    quota: {{products: {{{PRODUCT}: {{calls: 2, window: day}}}}}}\n"
        "    price: {per_call: 0.10, currency: CNY}\n"
        "    purpose: testing metering\n"
    )
    admin = client(zone, "admin")
    admin.reload_policies()
    caller = ZoneClient(target(zone), token=token, timeout=10)
    row = rows[1200]  # a subject no other test checks: the windows are zone-wide too
    claim = {"registered_capital": [float(row["registered_capital"])]}
    until = datetime.now(UTC) + timedelta(hours=1)
    consent = caller.register_consent(PRODUCT, row["uscc"], purpose="p", not_after=until,
                                      letter_sha256="cd" * 32, max_uses=5).consent  # fmt: skip
    ask = partial(caller.match, PRODUCT, [row["uscc"]], claim, purpose="p", consents=[consent])
    answers = [ask() for _ in range(2)]
    assert all(a[0].status == "MATCH" for a in answers)
    with pytest.raises(ResourceExhaustedError) as refused:
        ask()
    assert any("quota" in d for d in refused.value.details)
    checks = state(
        zone, "SELECT COUNT(*) FROM verification_checks WHERE principal = 'metered-bank'"
    )
    assert checks == [(2,)]  # the refused call wrote nothing
    assert caller.describe_consent(consent).uses == 2  # nor used the consent
    usage = [u for u in admin.get_usage(principal="metered-bank") if u.product == PRODUCT]
    assert [(u.calls, u.amount_micro, u.currency) for u in usage] == [(2, 200_000, "CNY")]
    release_id = answers[0].release_ids[0]
    bundle = caller.get_receipt(release_id)
    assert bundle.receipt["release_id"] == release_id and bundle.receipt["epsilon_micro"] == 0
    with pytest.raises(NotFoundError):
        client(zone, "bank").get_receipt(release_id)
    kinds = state(zone, f"SELECT kind FROM releases WHERE release_id = '{release_id}'")
    assert kinds == [("verification",)]
    policy.unlink()
    admin.reload_policies()
