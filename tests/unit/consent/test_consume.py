from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

import pytest
from consentkit import (
    AUTHORITY,
    BANK_A,
    BANK_B,
    NOW,
    OTHER_SUBJECT,
    PRODUCT,
    PURPOSE,
    SUBJECT,
    consume,
    reasons,
    register_consent,
    scope,
    token,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from zone.consent import (
    SubjectConsent,
    check_and_consume,
    checked_without_consent,
    consent_report,
    find,
    receipt_fields,
    revoke,
    revoke_token,
    split_label,
)
from zone.errors import InvalidArgument, NotFound
from zone.state import StateStore

Keys = dict[str, Ed25519PublicKey]


def uses_of(store: StateStore, issuer: str, consent_id: str) -> int:
    with store.read() as conn:
        record = find(conn, issuer, consent_id)
    assert record is not None
    return record.uses


def use_rows(store: StateStore) -> list[tuple[object, ...]]:
    with store.read() as conn:
        calls = conn.execute(
            "SELECT request_id, principal, product, mode, subjects, consents "
            "FROM consent_calls ORDER BY call_id"
        ).fetchall()
    rows: list[tuple[object, ...]] = []
    for request_id, principal, product, mode, subjects, consents in calls:
        labels = json.loads(consents) or [None] * len(subjects.split("\n"))
        for subject, label in zip(subjects.split("\n"), labels, strict=True):
            issuer, consent_id = (None, None) if label is None else split_label(label)
            rows.append((request_id, principal, product, mode, subject, issuer, consent_id))
    return rows


# Operator-registered consents.


def test_a_live_consent_admits_and_uses_one_use(store: StateStore) -> None:
    record = register_consent(store)
    [outcome] = consume(store, [(SUBJECT, record.consent_id)])
    assert outcome == SubjectConsent(SUBJECT, "ok", record.consent_id)
    assert outcome.admitted and outcome.public_reason == "ok"
    assert uses_of(store, "", record.consent_id) == 1
    assert use_rows(store) == [
        ("req-1", BANK_A, PRODUCT, "operator", SUBJECT, "", record.consent_id)
    ]


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (NOW - timedelta(days=1, seconds=1), "not_yet_valid"),
        (NOW - timedelta(days=1), "ok"),
        (NOW + timedelta(days=30), "ok"),
        (NOW + timedelta(days=30, seconds=1), "expired"),
    ],
)
def test_the_window_is_inclusive(store: StateStore, now: datetime, reason: str) -> None:
    record = register_consent(store)
    assert reasons(consume(store, [(SUBJECT, record.consent_id)], now=now)) == [reason]


@pytest.mark.parametrize(
    ("scope_changes", "subject", "reason"),
    [
        ({"principal": BANK_B}, SUBJECT, "wrong_principal"),
        ({"product": "people-match"}, SUBJECT, "wrong_product"),
        ({"purpose": "marketing"}, SUBJECT, "wrong_purpose"),
        ({}, OTHER_SUBJECT, "wrong_subject"),
    ],
)
def test_out_of_scope_uses_are_refused(
    store: StateStore, scope_changes: dict[str, str], subject: str, reason: str
) -> None:
    record = register_consent(store)
    [outcome] = consume(store, [(subject, record.consent_id)], **scope_changes)
    assert outcome.reason == reason and outcome.consent is None and not outcome.admitted
    assert uses_of(store, "", record.consent_id) == 0
    assert use_rows(store) == []


def test_another_operators_consent_answers_like_an_unknown_one(store: StateStore) -> None:
    record = register_consent(store)
    theirs, missing = consume(
        store, [(SUBJECT, record.consent_id), (SUBJECT, "c-" + "0" * 32)], principal=BANK_B
    )
    assert (theirs.reason, missing.reason) == ("wrong_principal", "unknown")
    assert theirs.public_reason == missing.public_reason == "unknown"


def test_revoked_consents_are_refused(store: StateStore) -> None:
    record = register_consent(store)
    with store.write() as conn:
        revoke(conn, principal=BANK_A, consent_id=record.consent_id, now=NOW)
    assert reasons(consume(store, [(SUBJECT, record.consent_id)])) == ["revoked"]


def test_a_used_up_consent_is_refused(store: StateStore) -> None:
    record = register_consent(store, max_uses=2)
    subjects = [(SUBJECT, record.consent_id)] * 3
    assert reasons(consume(store, subjects)) == ["ok", "ok", "used_up"]
    assert reasons(consume(store, subjects[:1])) == ["used_up"]
    assert uses_of(store, "", record.consent_id) == 2


def test_missing_and_malformed_ids(store: StateStore) -> None:
    outcomes = consume(store, [(SUBJECT, None), (SUBJECT, ""), (SUBJECT, "no such/id")])
    assert reasons(outcomes) == ["no_consent", "no_consent", "unknown"]


def test_refusals_are_per_subject(store: StateStore) -> None:
    mine = register_consent(store)
    other = register_consent(store, subject=OTHER_SUBJECT, max_uses=1)
    outcomes = consume(
        store,
        [(SUBJECT, mine.consent_id), (SUBJECT, None), (OTHER_SUBJECT, other.consent_id),
         (OTHER_SUBJECT, other.consent_id)],
    )  # fmt: skip
    assert reasons(outcomes) == ["ok", "no_consent", "ok", "used_up"]
    assert [row[4] for row in use_rows(store)] == [SUBJECT, OTHER_SUBJECT]


def test_a_rolled_back_admission_gives_its_uses_back(store: StateStore) -> None:
    record = register_consent(store, max_uses=1)
    with pytest.raises(RuntimeError, match="refused later"), store.write() as conn:
        check_and_consume(conn, scope(), [(SUBJECT, record.consent_id)], now=NOW)
        raise RuntimeError("refused later")
    assert uses_of(store, "", record.consent_id) == 0 and use_rows(store) == []
    assert reasons(consume(store, [(SUBJECT, record.consent_id)])) == ["ok"]


def test_it_needs_an_open_write_transaction(store: StateStore) -> None:
    with pytest.raises(RuntimeError, match="open store.write"):
        check_and_consume(store.conn, scope(), [(SUBJECT, "c-1")], now=NOW)


# Authority tokens.


def test_a_valid_token_is_recorded_on_first_use_and_counted(
    store: StateStore, authority_key: Ed25519PrivateKey, authorities: Keys
) -> None:
    text = token(authority_key, max_uses=2)
    subjects = [(SUBJECT, text)]
    first = consume(store, subjects, mode="issuer", authorities=authorities)
    assert first == [SubjectConsent(SUBJECT, "ok", f"{AUTHORITY}/gc-0001")]
    with store.read() as conn:
        record = find(conn, AUTHORITY, "gc-0001")
    assert record is not None and record.source == "issuer" and record.letter_sha256 is None
    assert record.uses == 1 and record.terms.principal == BANK_A
    assert reasons(consume(store, subjects * 2, mode="issuer", authorities=authorities)) == [
        "ok",
        "used_up",
    ]
    assert uses_of(store, AUTHORITY, "gc-0001") == 2


def test_tokens_an_admin_revoked_are_refused_presented_before_or_not(
    store: StateStore, authority_key: Ed25519PrivateKey, authorities: Keys
) -> None:
    used = token(authority_key, "gc-used", max_uses=5)
    fresh = token(authority_key, "gc-fresh")
    assert reasons(consume(store, [(SUBJECT, used)], mode="issuer", authorities=authorities)) == [
        "ok"
    ]
    with store.write() as conn:
        first = revoke_token(conn, consent=f"{AUTHORITY}/gc-used", reason="withdrawn",
                             revoked_by="admin", now=NOW)  # fmt: skip
        revoke_token(conn, consent=f"{AUTHORITY}/gc-fresh", reason="", revoked_by="a", now=NOW)
        again = revoke_token(conn, consent=f"{AUTHORITY}/gc-used", reason="later",
                             revoked_by="other", now=NOW + timedelta(1))  # fmt: skip
    assert again == first and first.reason == "withdrawn"  # the first revocation is kept
    outcomes = consume(store, [(SUBJECT, used), (SUBJECT, fresh)], mode="issuer",
                       authorities=authorities)  # fmt: skip
    assert reasons(outcomes) == ["revoked", "revoked"]
    with store.read() as conn:
        record = find(conn, AUTHORITY, "gc-used")
        assert find(conn, AUTHORITY, "gc-fresh") is None  # refused before it was recorded
    assert record is not None and record.uses == 1 and record.revoked_at == NOW
    another = token(authority_key, "gc-other")  # other tokens of the authority still admit
    assert reasons(consume(store, [(SUBJECT, another)], mode="issuer",
                           authorities=authorities)) == ["ok"]  # fmt: skip


@pytest.mark.parametrize("consent", ["gc-0001", "/gc-0001", f"{AUTHORITY}/", "a b/c", "x/y/z"])
def test_a_token_revocation_must_name_issuer_and_id(store: StateStore, consent: str) -> None:
    with store.write() as conn, pytest.raises(InvalidArgument, match="issuer/consent_id"):
        revoke_token(conn, consent=consent, reason="", revoked_by="admin", now=NOW)


@pytest.mark.parametrize(
    ("changes", "scope_changes", "subject", "reason"),
    [
        ({"not_before": 2_000_000_000, "not_after": 2_000_000_001}, {}, SUBJECT, "not_yet_valid"),
        ({"not_before": 1_000_000_000, "not_after": 1_000_000_001}, {}, SUBJECT, "expired"),
        ({"principal": BANK_B}, {}, SUBJECT, "wrong_principal"),
        ({}, {"product": "people-match"}, SUBJECT, "wrong_product"),
        ({}, {"purpose": "marketing"}, SUBJECT, "wrong_purpose"),
        ({}, {}, OTHER_SUBJECT, "wrong_subject"),
    ],
)
def test_out_of_scope_tokens_are_refused_and_not_recorded(
    store: StateStore,
    authority_key: Ed25519PrivateKey,
    authorities: Keys,
    changes: dict[str, object],
    scope_changes: dict[str, str],
    subject: str,
    reason: str,
) -> None:
    text = token(authority_key, **changes)
    outcomes = consume(
        store, [(subject, text)], mode="issuer", authorities=authorities, **scope_changes
    )
    assert reasons(outcomes) == [reason]
    with store.read() as conn:
        assert find(conn, AUTHORITY, "gc-0001") is None


def test_another_operators_token_answers_as_unknown(
    store: StateStore, authority_key: Ed25519PrivateKey, authorities: Keys
) -> None:
    [outcome] = consume(
        store, [(SUBJECT, token(authority_key))], mode="issuer", authorities=authorities,
        principal=BANK_B,
    )  # fmt: skip
    assert outcome.reason == "wrong_principal" and outcome.public_reason == "unknown"


def test_forged_and_altered_tokens_are_refused(
    store: StateStore, authority_key: Ed25519PrivateKey, authorities: Keys
) -> None:
    forged = token(Ed25519PrivateKey.generate())
    body, signature = token(authority_key, max_uses=1).split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["max_uses"] = 1000
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    altered = base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + signature
    outcomes = consume(
        store, [(SUBJECT, forged), (SUBJECT, altered)], mode="issuer", authorities=authorities
    )
    assert reasons(outcomes) == ["bad_signature", "bad_signature"]
    assert use_rows(store) == []


def test_a_token_from_an_unlisted_authority_is_refused(
    store: StateStore, authority_key: Ed25519PrivateKey
) -> None:
    text = token(authority_key)
    assert reasons(consume(store, [(SUBJECT, text)], mode="issuer")) == ["unknown_issuer"]
    others = {"other": Ed25519PrivateKey.generate().public_key()}
    assert reasons(consume(store, [(SUBJECT, text)], mode="issuer", authorities=others)) == [
        "unknown_issuer"
    ]


def test_a_second_token_under_the_same_id_conflicts(
    store: StateStore, authority_key: Ed25519PrivateKey, authorities: Keys
) -> None:
    first, second = token(authority_key, max_uses=1), token(authority_key, max_uses=5)
    outcomes = consume(
        store, [(SUBJECT, first), (SUBJECT, second)], mode="issuer", authorities=authorities
    )
    assert reasons(outcomes) == ["ok", "conflicting_token"]


def test_a_malformed_token_fails_the_call_before_anything_is_used(
    store: StateStore, authority_key: Ed25519PrivateKey, authorities: Keys
) -> None:
    subjects = [(SUBJECT, token(authority_key)), (OTHER_SUBJECT, "not.a-token")]
    with pytest.raises(InvalidArgument, match="subject 1: malformed consent token"):
        consume(store, subjects, mode="issuer", authorities=authorities)
    assert use_rows(store) == []
    with store.read() as conn:
        assert find(conn, AUTHORITY, "gc-0001") is None


def test_registered_ids_are_not_tokens(store: StateStore, authorities: Keys) -> None:
    record = register_consent(store)
    with pytest.raises(InvalidArgument):
        consume(store, [(SUBJECT, record.consent_id)], mode="issuer", authorities=authorities)


def test_tokens_are_not_registered_ids(store: StateStore, authority_key: Ed25519PrivateKey) -> None:
    assert reasons(consume(store, [(SUBJECT, token(authority_key))])) == ["unknown"]


# Products that need no consent, receipts and the admin view.


def test_mode_none_admits_everyone_and_records_the_checks(store: StateStore) -> None:
    outcomes = consume(store, [(SUBJECT, None), (OTHER_SUBJECT, "ignored")], mode="none")
    assert [(o.reason, o.consent) for o in outcomes] == [("ok", None), ("ok", None)]
    with store.read() as conn:
        assert checked_without_consent(conn, requiring={"other-product"}) == []
        found = checked_without_consent(conn, requiring={PRODUCT})
    assert [(u.subject, u.mode, u.consent, u.used_at) for u in found] == [
        (SUBJECT, "none", None, NOW),
        (OTHER_SUBJECT, "none", None, NOW),
    ]
    with store.read() as conn:
        assert checked_without_consent(conn, requiring={PRODUCT}, after_use=found[0].use_id) == [
            found[1]
        ]


def test_checks_under_consent_are_not_without_consent(store: StateStore) -> None:
    record = register_consent(store)
    consume(store, [(SUBJECT, record.consent_id)])
    with store.read() as conn:
        assert checked_without_consent(conn, requiring={PRODUCT}) == []


def test_receipt_fields_list_consents_and_precise_refusals(store: StateStore) -> None:
    record = register_consent(store, max_uses=1)
    outcomes = consume(
        store,
        [(SUBJECT, record.consent_id), (SUBJECT, record.consent_id), (SUBJECT, None)],
    )
    assert receipt_fields(outcomes) == {
        "consents": [record.consent_id],
        "consent_refusals": {"no_consent": 1, "used_up": 1},
    }
    theirs = consume(store, [(SUBJECT, record.consent_id)], principal=BANK_B)
    assert receipt_fields(theirs)["consent_refusals"] == {"wrong_principal": 1}


def test_consent_report_shows_terms_and_each_use(
    store: StateStore, authority_key: Ed25519PrivateKey, authorities: Keys
) -> None:
    record = register_consent(store)
    consume(store, [(SUBJECT, record.consent_id)], request_id="req-1")
    consume(store, [(SUBJECT, record.consent_id)], request_id="req-2", now=NOW + timedelta(1))
    with store.read() as conn:
        report = consent_report(conn, record.consent_id)
    assert report.record.uses == 2 and report.record.terms.purpose == PURPOSE
    assert [(u.request_id, u.used_at) for u in report.uses] == [
        ("req-1", NOW),
        ("req-2", NOW + timedelta(1)),
    ]
    assert report.uses[0].describe()["consent"] == record.consent_id
    consume(store, [(SUBJECT, token(authority_key))], mode="issuer", authorities=authorities)
    with store.read() as conn:
        issued = consent_report(conn, f"{AUTHORITY}/gc-0001")
        with pytest.raises(NotFound):
            consent_report(conn, f"{AUTHORITY}/never-presented")
    assert [u.consent for u in issued.uses] == [f"{AUTHORITY}/gc-0001"]
    assert issued.record.token_sha256 is not None


def test_the_scope_names_a_known_mode() -> None:
    with pytest.raises(ValueError, match="consent mode must be one of"):
        scope("everyone")  # type: ignore[arg-type]
