from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest
from consentkit import BANK_A, BANK_B, LETTER, NOW, PRODUCT, SUBJECT, register_consent

from zone.consent import find, get, register, revoke
from zone.consent.terms import unix_seconds
from zone.errors import InvalidArgument, NotFound
from zone.state import StateStore


def test_register_stores_the_terms_and_the_letter_digest(store: StateStore) -> None:
    record = register_consent(store, letter_sha256=LETTER.upper())
    assert record.consent_id.startswith("c-") and len(record.consent_id) == 34
    assert record.label == record.consent_id and record.source == "operator"
    assert record.terms.principal == BANK_A and record.terms.subject == SUBJECT
    assert record.terms.not_after == unix_seconds(NOW + timedelta(days=30))
    assert record.letter_sha256 == LETTER and record.token_sha256 is None
    assert record.uses == 0 and record.uses_left == 3 and record.revoked_at is None
    with store.read() as conn:
        assert get(conn, principal=BANK_A, consent_id=record.consent_id) == record


def test_ids_are_fresh(store: StateStore) -> None:
    ids = {register_consent(store).consent_id for _ in range(5)}
    assert len(ids) == 5


def test_register_reports_every_problem_at_once(store: StateStore) -> None:
    with pytest.raises(InvalidArgument) as info, store.write() as conn:
        register(
            conn,
            principal="Bank A",
            product=PRODUCT,
            subject="",
            purpose=" ",
            not_before=NOW + timedelta(days=2),
            not_after=NOW + timedelta(days=1),
            max_uses=0,
            letter_sha256="abc",
            now=NOW,
        )
    message = info.value.message
    for part in (
        "principal must match",
        "subject must have 1 to 128 characters",
        "purpose must have 1 to 256 characters",
        "not_after must not be before not_before",
        "max_uses must be an integer from 1 to 1000000",
        "letter_sha256 must be the SHA-256",
    ):
        assert part in message
    assert info.value.reason == "bad_consent"
    with store.read() as conn:
        assert conn.execute("SELECT count(*) FROM consents").fetchone() == (0,)


def test_register_refuses_naive_times_and_past_windows(store: StateStore) -> None:
    with pytest.raises(InvalidArgument, match="not_before must be an aware datetime"):
        register_consent(store, not_before=datetime(2026, 1, 1))
    with pytest.raises(InvalidArgument, match="not_after is in the past"):
        register_consent(store, not_before=NOW - timedelta(days=9), not_after=NOW - timedelta(1))


def test_another_operators_id_reads_as_unknown(store: StateStore) -> None:
    record = register_consent(store)
    with store.read() as conn, pytest.raises(NotFound) as other:
        get(conn, principal=BANK_B, consent_id=record.consent_id)
    with store.read() as conn, pytest.raises(NotFound) as missing:
        get(conn, principal=BANK_B, consent_id="c-" + "0" * 32)
    assert other.value.message == missing.value.message
    assert other.value.reason == missing.value.reason == "unknown_consent"
    with store.read() as conn, pytest.raises(NotFound):
        get(conn, principal=BANK_A, consent_id="../not an id")


def test_only_the_owner_revokes(store: StateStore) -> None:
    record = register_consent(store)
    with store.write() as conn, pytest.raises(NotFound):
        revoke(conn, principal=BANK_B, consent_id=record.consent_id, now=NOW)
    with store.read() as conn:
        assert get(conn, principal=BANK_A, consent_id=record.consent_id).revoked_at is None
    with store.write() as conn:
        revoked = revoke(
            conn, principal=BANK_A, consent_id=record.consent_id, now=NOW, reason="withdrawn"
        )
    assert revoked.revoked_at == NOW and revoked.revoke_reason == "withdrawn"
    assert revoked.uses_left == 0


def test_revoking_twice_keeps_the_first_revocation(store: StateStore) -> None:
    record = register_consent(store)
    later = NOW + timedelta(hours=1)
    with store.write() as conn:
        revoke(conn, principal=BANK_A, consent_id=record.consent_id, now=NOW, reason="first")
        again = revoke(conn, principal=BANK_A, consent_id=record.consent_id, now=later)
    assert again.revoked_at == NOW and again.revoke_reason == "first"


def test_revoke_reason_is_bounded(store: StateStore) -> None:
    record = register_consent(store)
    with store.write() as conn, pytest.raises(InvalidArgument):
        revoke(conn, principal=BANK_A, consent_id=record.consent_id, now=NOW, reason="x" * 257)


def test_the_database_refuses_uses_beyond_max_uses(store: StateStore) -> None:
    record = register_consent(store, max_uses=1)
    with store.write() as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE consents SET uses = 2 WHERE consent_id = ?", (record.consent_id,))
    with store.read() as conn:
        found = find(conn, "", record.consent_id)
    assert found is not None and found.uses == 0


def test_describe_is_json_ready(store: StateStore) -> None:
    described = register_consent(store).describe()
    assert json.loads(json.dumps(described)) == described
    assert described["source"] == "operator" and described["letter_sha256"] == LETTER
