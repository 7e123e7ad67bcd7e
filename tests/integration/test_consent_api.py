"""Consent end to end: ConsentService, and Match and Score refusing subjects per consent.

A real server on loopback with a real state database: operators register and revoke consents
(audited in the same transaction), every kind of refusal reaches the caller per subject with
nothing computed or counted for it, authority tokens are verified, and two concurrent calls
racing for a consent's last use admit exactly one subject.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from zonekit import TOKENS, add_principal, client, demo_rows, make_zone_dir, running_zone, target

from zone.cli import main
from zone.client import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ZoneClient,
)
from zone.consent import ConsentTerms, encode_authority_key, issue_token
from zone.consent.terms import unix_seconds
from zone.server.app import RunningZone

PRODUCT = "capital-match"
OTHER = "capital-other"
ISSUED = "capital-issued"
AUTHORITY = "gov-consent"
LETTER = "ab" * 32
PURPOSE = "loan application"
OTHER_PRODUCT = """id: {id}
kind: verification
dataset: enterprises
description: capital checks ({consent} consent)
key: uscc
claims: {{registered_capital: {{tolerance: 0, unit: 0.01}}, employees: {{tolerance: 2}}}}
consent: {consent}
"""


@dataclass
class Zone:
    running: RunningZone
    authority: Ed25519PrivateKey
    issuer_token: str
    other_token: str

    def caller(self, token: str) -> ZoneClient:
        return ZoneClient(target(self.running), token=token, timeout=30)

    def state(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.running.services.config.state_db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def audit(self, kind: str) -> list[dict[str, Any]]:
        self.running.services.audit.flush()  # the journaled rpc records too
        rows = self.state("SELECT record FROM audit_log WHERE kind = ? ORDER BY seq", kind)
        return [json.loads(text) for (text,) in rows]


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zone]:
    config = make_zone_dir(tmp_path_factory.mktemp("consent"))
    models, policies = config.parent / "models", config.parent / "policies"
    (models / f"{OTHER}.yaml").write_text(OTHER_PRODUCT.format(id=OTHER, consent="operator"))
    (models / f"{ISSUED}.yaml").write_text(OTHER_PRODUCT.format(id=ISSUED, consent="issuer"))
    authority = Ed25519PrivateKey.generate()
    (policies / "authorities.yaml").write_text(
        "consent_authorities:\n"
        f"  - {{id: {AUTHORITY}, name: test portal, "
        f"public_key: {encode_authority_key(authority.public_key())}}}\n"
        "grants:\n"
        f"  - {{principal: bank-a, products: [{OTHER}], purpose: testing}}\n"
    )
    issuer = add_principal(config, "issuer-bank", products=(ISSUED,))
    other = add_principal(config, "bank-b", products=(PRODUCT,))
    with running_zone(config) as running:
        yield Zone(running, authority, issuer, other)


@pytest.fixture(scope="module")
def rows(zone: Zone) -> list[dict[str, str]]:
    return demo_rows(zone.running)


def until(seconds: float = 3600) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def register(caller: ZoneClient, subject: str, **changes: Any) -> str:
    fields: dict[str, Any] = {"purpose": PURPOSE, "not_after": until(), "letter_sha256": LETTER}
    product = changes.pop("product", PRODUCT)
    return caller.register_consent(product, subject, **{**fields, **changes}).consent


def claim_of(row: dict[str, str]) -> float:
    return float(row["registered_capital"])


def test_register_describe_revoke_are_audited_and_private(
    zone: Zone, rows: list[dict[str, str]]
) -> None:
    bank, other = client(zone.running, "bank"), zone.caller(zone.other_token)
    subject = rows[0]["uscc"]
    info = bank.register_consent(PRODUCT, subject, purpose=PURPOSE, not_after=until(),
                                 letter_sha256=LETTER, max_uses=2)  # fmt: skip
    assert info.consent.startswith("c-") and info.source == "operator"
    assert (info.principal, info.product, info.subject, info.max_uses, info.uses) == (
        "bank-a",
        PRODUCT,
        subject,
        2,
        0,
    )
    assert bank.describe_consent(info.consent) == info
    registered = zone.audit("consent.register")[-1]
    assert registered["consent"] == info.consent and registered["principal"] == "bank-a"
    rpc = [r for r in zone.audit("rpc") if r["request_id"] == registered["request_id"]]
    assert rpc and rpc[0]["method"].endswith("/RegisterConsent")
    for call in (other.describe_consent, other.revoke_consent):  # another operator's: unknown
        with pytest.raises(NotFoundError) as theirs:
            call(info.consent)
        with pytest.raises(NotFoundError) as unknown:
            call("c-" + "0" * 32)
        assert theirs.value.message == unknown.value.message
    revoked = bank.revoke_consent(info.consent, "withdrawn by the subject")
    assert revoked.revoked_at is not None and revoked.revoke_reason == "withdrawn by the subject"
    assert bank.revoke_consent(info.consent).revoked_at == revoked.revoked_at  # idempotent
    assert zone.audit("consent.revoke")[-1]["revoked_at"] is not None


def test_registration_is_refused_clearly_and_writes_nothing(zone: Zone) -> None:
    bank = client(zone.running, "bank")
    before = len(zone.audit("consent.register"))
    with pytest.raises(PermissionDeniedError):  # not granted to the researcher
        client(zone.running, "researcher").register_consent(
            PRODUCT, "S", purpose=PURPOSE, not_after=until(), letter_sha256=LETTER
        )
    with pytest.raises(FailedPreconditionError):  # tokens only
        zone.caller(zone.issuer_token).register_consent(
            ISSUED, "S", purpose=PURPOSE, not_after=until(), letter_sha256=LETTER
        )
    with pytest.raises(InvalidArgumentError) as bad:
        bank.register_consent(PRODUCT, "S", purpose=PURPOSE, not_after=until(-60),
                              letter_sha256="not a digest", max_uses=0)  # fmt: skip
    assert all(w in bad.value.message for w in ("past", "letter_sha256", "max_uses"))
    assert len(zone.audit("consent.register")) == before


def test_every_refusal_reaches_the_caller_per_subject_and_costs_nothing(
    zone: Zone, rows: list[dict[str, str]]
) -> None:
    bank = client(zone.running, "bank")
    other = zone.caller(zone.other_token)
    picked = rows[10:21]
    subjects = [r["uscc"] for r in picked]
    expiring = register(bank, subjects[1], not_after=until(1))
    revoked = register(bank, subjects[2])
    bank.revoke_consent(revoked)
    used = register(bank, subjects[5], max_uses=1)
    bank.match(PRODUCT, subjects[5:6], {"registered_capital": [1.0]}, purpose=PURPOSE,
               consents=[used])  # fmt: skip
    refs = [
        register(bank, subjects[0]),  # in force
        expiring,
        revoked,
        register(bank, subjects[3], purpose="marketing"),
        register(bank, subjects[4], product=OTHER),
        used,
        register(other, subjects[6]),  # bank-b's consent: reads as unknown to bank-a
        "c-" + "0" * 32,
        "",
        register(bank, subjects[0]),  # consent for another subject
        "not an id at all",
    ]
    reasons = ["", "expired", "revoked", "wrong_purpose", "wrong_product", "used_up", "unknown",
               "unknown", "no_consent", "wrong_subject", "unknown"]  # fmt: skip
    time.sleep(max(0.0, 2.1 - (time.time() % 1)))  # past the expiring consent's last second
    uses_before = dict(zone.state("SELECT consent_id, uses FROM consents"))
    checks_before = zone.state("SELECT COUNT(*) FROM verification_checks")
    results = bank.match(PRODUCT, subjects, {"registered_capital": [claim_of(r) for r in picked]},
                         purpose=PURPOSE, consents=refs)  # fmt: skip
    assert [r.refusal for r in results] == reasons
    assert results.statuses == ["MATCH"] + ["CONSENT_REFUSED"] * 10
    assert all(r.claims == {} for r in results[1:])  # nothing was evaluated for them
    uses_after = dict(zone.state("SELECT consent_id, uses FROM consents"))
    assert {r for r in uses_after if uses_after[r] != uses_before.get(r, 0)} == {refs[0]}
    logged = zone.state("SELECT subjects FROM verification_checks ORDER BY check_id")
    assert logged[-1] == (subjects[0],)  # refused subjects use no window
    assert zone.state("SELECT COUNT(*) FROM verification_checks")[0][0] == checks_before[0][0] + 1
    receipt = [r for r in zone.audit("release") if r.get("product") == PRODUCT][-1]
    assert (
        receipt["checked"] == 1 and receipt["subjects"] == 11 and receipt["consents"] == [refs[0]]
    )
    assert receipt["consent_refusals"]["unknown"] == 3  # what the caller was told
    precise = zone.audit("verification.consent")[-1]
    assert precise["request_id"] == receipt["request_id"]
    assert precise["consent_refusals"]["wrong_principal"] == 1  # what the zone keeps


def test_a_call_with_every_consent_refused_is_answered_free(
    zone: Zone, rows: list[dict[str, str]]
) -> None:
    bank = client(zone.running, "bank")
    subjects = [r["uscc"] for r in rows[30:33]]

    def counts() -> tuple[Any, ...]:
        return tuple(zone.state(q)[0][0] for q in (
            "SELECT COUNT(*) FROM verification_checks", "SELECT COUNT(*) FROM usage",
            "SELECT COUNT(*) FROM releases", "SELECT COALESCE(SUM(uses), 0) FROM consents",
        ))  # fmt: skip

    before = counts()
    results = bank.match(PRODUCT, subjects, {"employees": [1, 2, 3]}, purpose=PURPOSE)
    assert results.statuses == ["CONSENT_REFUSED"] * 3 and results.release_ids == []
    assert counts() == before  # no check, no usage (quota), no release, no consent use
    assert zone.audit("verification.consent")[-1]["consent_refusals"] == {"no_consent": 3}
    assert zone.audit("rpc")[-1]["status"] == "OK"


def token(zone: Zone, subject: str, consent_id: str, **changes: Any) -> str:
    now = datetime.now(UTC)
    terms = ConsentTerms(
        principal=changes.pop("principal", "issuer-bank"), product=ISSUED, subject=subject,
        purpose=PURPOSE, not_before=unix_seconds(now - timedelta(minutes=5)),
        not_after=changes.pop("not_after", unix_seconds(now + timedelta(hours=1))),
        max_uses=changes.pop("max_uses", 2),
    )  # fmt: skip
    key = changes.pop("key", zone.authority)
    return issue_token(key, issuer=changes.pop("issuer", AUTHORITY), consent_id=consent_id,
                       terms=terms)  # fmt: skip


def test_authority_tokens_are_verified_per_subject(zone: Zone, rows: list[dict[str, str]]) -> None:
    caller = zone.caller(zone.issuer_token)
    picked = rows[40:47]
    subjects = [r["uscc"] for r in picked]
    past = unix_seconds(datetime.now(UTC) - timedelta(minutes=1))
    once = token(zone, subjects[5], "t-once", max_uses=1)
    caller.match(ISSUED, subjects[5:6], {"employees": [0]}, purpose=PURPOSE, consents=[once])
    first = token(zone, subjects[6], "t-twice")
    caller.match(ISSUED, subjects[6:7], {"employees": [0]}, purpose=PURPOSE, consents=[first])
    tokens = [
        token(zone, subjects[0], "t-ok"),
        token(zone, subjects[1], "t-forged", key=Ed25519PrivateKey.generate()),
        token(zone, subjects[2], "t-theirs", principal="bank-a"),
        token(zone, subjects[3], "t-old", not_after=past),
        token(zone, subjects[4], "t-nobody", issuer="other-portal"),
        once,
        token(zone, subjects[6], "t-twice", max_uses=9),  # same id, other terms
    ]
    results = caller.match(ISSUED, subjects, {"registered_capital": [claim_of(r) for r in picked]},
                           purpose=PURPOSE, consents=tokens)  # fmt: skip
    assert [(r.status, r.refusal) for r in results] == [
        ("MATCH", ""), ("CONSENT_REFUSED", "bad_signature"), ("CONSENT_REFUSED", "unknown"),
        ("CONSENT_REFUSED", "expired"), ("CONSENT_REFUSED", "unknown_issuer"),
        ("CONSENT_REFUSED", "used_up"), ("CONSENT_REFUSED", "conflicting_token"),
    ]  # fmt: skip
    receipt = [r for r in zone.audit("release") if r.get("product") == ISSUED][-1]
    assert receipt["consents"] == [f"{AUTHORITY}/t-ok"] and receipt["consent_mode"] == "issuer"
    before = zone.state("SELECT COUNT(*), SUM(uses) FROM consents")
    with pytest.raises(InvalidArgumentError):  # a token that does not parse fails the call
        caller.match(ISSUED, subjects[:2], {"employees": [0, 0]}, purpose=PURPOSE,
                     consents=[tokens[0], tokens[0] + "x"])  # fmt: skip
    assert zone.state("SELECT COUNT(*), SUM(uses) FROM consents") == before


def test_an_admin_revokes_an_authoritys_token_for_it(
    zone: Zone, rows: list[dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    caller, admin = zone.caller(zone.issuer_token), client(zone.running, "admin")
    subjects = [r["uscc"] for r in rows[70:72]]
    used, unseen = token(zone, subjects[0], "t-withdrawn"), token(zone, subjects[1], "t-unseen")
    ask = partial(caller.match, ISSUED, subjects, {"employees": [0, 0]}, purpose=PURPOSE)
    assert [r.status for r in ask(consents=[used, ""])][0] != "CONSENT_REFUSED"
    label, _ = admin.revoke_consent_token(f"{AUTHORITY}/t-withdrawn", "withdrawn at the portal")
    assert label == f"{AUTHORITY}/t-withdrawn"
    admin_token = tmp_path / "admin.token"
    admin_token.write_text(TOKENS["admin"])
    argv = ["consent", "revoke-token", f"{AUTHORITY}/t-unseen", "--reason", "withdrawn",
            "--target", target(zone.running), "--token-file", str(admin_token)]  # fmt: skip
    assert main(argv) == 0 and f"revoked token {AUTHORITY}/t-unseen" in capsys.readouterr().out
    refused = ask(consents=[used, unseen])
    assert [(r.status, r.refusal) for r in refused] == [("CONSENT_REFUSED", "revoked")] * 2
    audited = [a["consent"] for a in zone.audit("consent.revoke_token")]
    assert audited[-2:] == [f"{AUTHORITY}/t-withdrawn", f"{AUTHORITY}/t-unseen"]
    with pytest.raises(PermissionDeniedError):  # operators cannot revoke authorities' tokens
        caller.revoke_consent_token(f"{AUTHORITY}/t-other")
    with pytest.raises(NotFoundError):
        admin.revoke_consent_token("other-portal/t-1")
    with pytest.raises(InvalidArgumentError):
        admin.revoke_consent_token("t-without-issuer")


def test_two_calls_racing_for_the_last_use_admit_exactly_one(
    zone: Zone, rows: list[dict[str, str]]
) -> None:
    callers = [client(zone.running, "bank") for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        for attempt in range(5):
            subject, purpose = rows[50 + attempt]["uscc"], f"race {attempt}"
            consent = register(callers[0], subject, max_uses=1, purpose=purpose)
            barrier = threading.Barrier(2)

            def call(
                bank: ZoneClient,
                consent: str = consent,
                purpose: str = purpose,
                subject: str = subject,
                barrier: threading.Barrier = barrier,
            ) -> str:
                barrier.wait()
                (result,) = bank.match(
                    PRODUCT, [subject], {"employees": [0]}, purpose=purpose, consents=[consent]
                )
                return result.refusal or "checked"

            outcomes = sorted(pool.map(call, callers))
            assert outcomes == ["checked", "used_up"], outcomes
            assert zone.state("SELECT uses FROM consents WHERE consent_id = ?", consent) == [(1,)]


def test_admins_review_consent_use(zone: Zone, rows: list[dict[str, str]]) -> None:
    bank, admin = client(zone.running, "bank"), client(zone.running, "admin")
    subject = rows[60]["uscc"]
    consent = register(bank, subject, max_uses=3)
    for _ in range(2):
        bank.match(PRODUCT, [subject], {"employees": [1]}, purpose=PURPOSE, consents=[consent])
    info, uses = admin.consent_report(consent)
    assert info.uses == 2 and [u.subject for u in uses] == [subject, subject]
    released = {r for (r,) in zone.state("SELECT release_id FROM releases")}
    assert len({u.release_id for u in uses}) == 2 and {u.release_id for u in uses} <= released
    assert {u.consent for u in uses} == {consent} and all(u.mode == "operator" for u in uses)
    assert admin.checks_without_consent() == []  # every product here requires consent
    with pytest.raises(PermissionDeniedError):
        bank.consent_report(consent)
    with pytest.raises(PermissionDeniedError):
        bank.checks_without_consent()
    with pytest.raises(NotFoundError):
        admin.consent_report("c-" + "1" * 32)
