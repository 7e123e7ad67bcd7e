from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zone.errors import Unauthenticated
from zone.policy import (
    INVALID_CREDENTIALS,
    Budget,
    Credential,
    Grant,
    PolicySet,
    Principal,
    new_token,
    token_digest,
)

TODAY = date(2026, 6, 1)
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)
PRODUCTS = frozenset({"enterprise-stats", "capital-match", "people-stats"})

BANK = Principal("bank-a", "operator", "Example Bank A")
ADMIN = Principal("admin-1", "admin", "Zone")


def grant(
    principal: str = "bank-a",
    products: tuple[str, ...] = ("enterprise-stats",),
    valid_from: date | None = None,
    valid_until: date | None = None,
    purpose: str = "credit-risk assessment",
) -> Grant:
    return Grant(
        principal=principal,
        products=products,
        budget={"enterprises": Budget(5.0, 1e-6)},
        purpose=purpose,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def policy(*grants: Grant, principals: tuple[Principal, ...] = (BANK, ADMIN)) -> PolicySet:
    credentials = tuple(
        Credential(p.id, token_digest(f"token-{p.id}"), f"{p.id}.zone.example") for p in principals
    )
    return PolicySet(
        digest="sha256:test",
        principals={p.id: p for p in principals},
        grants=grants,
        product_ids=PRODUCTS,
        credentials=credentials,
    )


def unauthenticated(call: Callable[[], object]) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as info:
        call()
    return info.value


# --- helpers -----------------------------------------------------------------------------------


def test_token_digest_is_lowercase_hex_sha256() -> None:
    assert token_digest("test") == (
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )


def test_new_tokens_are_random_and_url_safe() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) == 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


# --- authentication ----------------------------------------------------------------------------


def test_authenticate_token() -> None:
    assert policy().authenticate_token("token-bank-a", TODAY) == BANK


def test_unknown_token() -> None:
    error = unauthenticated(lambda: policy().authenticate_token("token-nobody", TODAY))
    assert (error.message, error.reason) == (INVALID_CREDENTIALS, "bad_token")


def test_digest_presented_as_token_is_refused() -> None:
    error = unauthenticated(
        lambda: policy().authenticate_token(token_digest("token-bank-a"), TODAY)
    )
    assert error.reason == "bad_token"


def test_empty_token() -> None:
    error = unauthenticated(lambda: policy().authenticate_token("", TODAY))
    assert (error.message, error.reason) == ("missing credentials", "no_credentials")


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "ok"),
    [
        (None, YESTERDAY, False),
        (None, TODAY, True),
        (TOMORROW, None, False),
        (TODAY, TODAY, True),
        (YESTERDAY, TOMORROW, True),
    ],
)
def test_principal_validity_window(
    valid_from: date | None, valid_until: date | None, ok: bool
) -> None:
    bank = dataclasses.replace(BANK, valid_from=valid_from, valid_until=valid_until)
    p = policy(principals=(bank,))
    assert bank.is_valid_on(TODAY) is ok
    if ok:
        assert p.authenticate_token("token-bank-a", TODAY) == bank
        assert p.authenticate_certificate("bank-a.zone.example", TODAY) == bank
        return
    for call in (
        lambda: p.authenticate_token("token-bank-a", TODAY),
        lambda: p.authenticate_certificate("bank-a.zone.example", TODAY),
    ):
        error = unauthenticated(call)
        assert (error.message, error.reason) == (INVALID_CREDENTIALS, "principal_expired")


def test_every_digest_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    cert_only = Principal("lab", "researcher", "Lab")
    p = PolicySet(
        principals={x.id: x for x in (BANK, ADMIN, cert_only)},
        credentials=(
            Credential("bank-a", token_digest("token-bank-a")),
            Credential("admin-1", token_digest("token-admin-1")),
            Credential("lab", cert_identity="lab.example"),
        ),
    )
    for token in ("token-bank-a", "token-admin-1", "nope"):
        calls.clear()
        try:
            p.authenticate_token(token, TODAY)
        except Unauthenticated:
            pass
        assert len(calls) == 3
        assert all(len(b) == 64 for b in calls)


def test_authenticate_certificate() -> None:
    assert policy().authenticate_certificate("admin-1.zone.example", TODAY) == ADMIN


@pytest.mark.parametrize("identity", ["other.zone.example", "ADMIN-1.zone.example", "admin-1"])
def test_certificate_identity_must_match_exactly(identity: str) -> None:
    error = unauthenticated(lambda: policy().authenticate_certificate(identity, TODAY))
    assert (error.message, error.reason) == (INVALID_CREDENTIALS, "bad_certificate")


def test_empty_certificate_identity() -> None:
    error = unauthenticated(lambda: policy().authenticate_certificate("", TODAY))
    assert error.reason == "no_credentials"


@given(
    registered=st.lists(st.text(min_size=1, max_size=20), max_size=5, unique=True),
    presented=st.text(max_size=20),
)
def test_exactly_the_listed_tokens_authenticate(registered: list[str], presented: str) -> None:
    principals = {f"p{i}": Principal(f"p{i}", "operator", "Org") for i in range(len(registered))}
    p = PolicySet(
        principals=principals,
        credentials=tuple(Credential(f"p{i}", token_digest(t)) for i, t in enumerate(registered)),
    )
    if presented in registered:
        assert p.authenticate_token(presented, TODAY).id == f"p{registered.index(presented)}"
    else:
        with pytest.raises(Unauthenticated):
            p.authenticate_token(presented, TODAY)


# --- authorization -----------------------------------------------------------------------------


def test_authorize_ok_returns_the_grant() -> None:
    g = grant()
    decision = policy(g).authorize(BANK, "enterprise-stats", TODAY)
    assert (decision.allowed, decision.reason, decision.grant) == (True, "ok", g)


def test_unknown_product() -> None:
    decision = policy(grant()).authorize(BANK, "no-such-product", TODAY)
    assert (decision.allowed, decision.reason, decision.grant) == (False, "unknown_product", None)


def test_no_grant_for_this_product() -> None:
    assert policy(grant()).authorize(BANK, "capital-match", TODAY).reason == "no_grant"


def test_principal_unknown_to_this_policy_set() -> None:
    stranger = Principal("stranger", "operator", "X")
    assert policy(grant()).authorize(stranger, "enterprise-stats", TODAY).reason == "no_grant"


def test_admin_has_no_implicit_grants() -> None:
    assert policy(grant()).authorize(ADMIN, "enterprise-stats", TODAY).reason == "no_grant"
    decision = policy(grant("admin-1")).authorize(ADMIN, "enterprise-stats", TODAY)
    assert decision.reason == "ok"


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "reason"),
    [
        (TOMORROW, None, "grant_not_yet_valid"),
        (None, YESTERDAY, "grant_expired"),
        (TODAY, TODAY, "ok"),
        (None, TODAY, "ok"),
        (TODAY, None, "ok"),
    ],
)
def test_grant_validity_window(
    valid_from: date | None, valid_until: date | None, reason: str
) -> None:
    g = grant(valid_from=valid_from, valid_until=valid_until)
    decision = policy(g).authorize(BANK, "enterprise-stats", TODAY)
    assert (decision.reason, decision.allowed) == (reason, reason == "ok")


def test_expired_principal_is_denied_before_anything_else() -> None:
    expired = dataclasses.replace(BANK, valid_until=YESTERDAY)
    p = policy(grant(), principals=(expired, ADMIN))
    assert p.authorize(BANK, "enterprise-stats", TODAY).reason == "principal_expired"
    assert p.authorize(BANK, "no-such-product", TODAY).reason == "principal_expired"


def test_first_grant_valid_today_is_used() -> None:
    old = grant(valid_until=YESTERDAY, purpose="old")
    current = grant(purpose="current")
    later = grant(purpose="later")
    decision = policy(old, current, later).authorize(BANK, "enterprise-stats", TODAY)
    assert decision.grant is current


def test_future_grant_wins_the_reason_over_an_expired_one() -> None:
    p = policy(grant(valid_until=YESTERDAY), grant(valid_from=TOMORROW))
    assert p.authorize(BANK, "enterprise-stats", TODAY).reason == "grant_not_yet_valid"


def test_granted_products() -> None:
    first = grant(products=("enterprise-stats", "capital-match"))
    second = grant(products=("capital-match", "people-stats", "retired-product"))
    expired = grant(products=("people-stats",), valid_until=YESTERDAY)
    other = grant("admin-1", products=("enterprise-stats",))
    assert policy(expired, first, second, other).granted_products(BANK, TODAY) == {
        "enterprise-stats": first,
        "capital-match": first,
        "people-stats": second,
    }
    assert policy(expired).granted_products(BANK, TODAY) == {}


def test_granted_products_of_an_expired_principal() -> None:
    expired = dataclasses.replace(BANK, valid_until=YESTERDAY)
    assert policy(grant(), principals=(expired,)).granted_products(BANK, TODAY) == {}


def test_empty_policy_set_denies_everything() -> None:
    empty = PolicySet.empty()
    assert unauthenticated(lambda: empty.authenticate_token("anything", TODAY)).reason == (
        "bad_token"
    )
    assert unauthenticated(lambda: empty.authenticate_certificate("x", TODAY)).reason == (
        "bad_certificate"
    )
    assert empty.authorize(BANK, "enterprise-stats", TODAY).reason == "no_grant"
    assert empty.granted_products(BANK, TODAY) == {}


# --- immutability ------------------------------------------------------------------------------


def test_policy_set_is_immutable_and_copies_its_inputs() -> None:
    principals = {"bank-a": BANK}
    budget = {"enterprises": Budget(1.0, 0.0)}
    g = Grant("bank-a", ("enterprise-stats",), budget, "p")
    p = PolicySet(principals=principals, grants=(g,), product_ids=PRODUCTS)
    principals.clear()
    budget.clear()
    assert set(p.principals) == {"bank-a"} and set(g.budget) == {"enterprises"}
    with pytest.raises(TypeError):
        p.principals["x"] = BANK  # type: ignore[index]
    with pytest.raises(TypeError):
        g.budget["x"] = Budget(1.0, 0.0)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.digest = "sha256:other"  # type: ignore[misc]


def test_repr_does_not_show_credentials() -> None:
    assert token_digest("token-bank-a") not in repr(policy())


def test_credentials_must_name_known_principals() -> None:
    with pytest.raises(ValueError, match="unknown principals"):
        PolicySet(credentials=(Credential("ghost", token_digest("x")),))


# --- with the loader ---------------------------------------------------------------------------


def test_loaded_policy_end_to_end(
    write: Callable[[str, str], Path], load: Callable[[], PolicySet]
) -> None:
    write(
        "ops.yaml",
        f"""
        principals:
          - id: bank-a
            role: operator
            organisation: Example Bank A
            token_sha256: {token_digest("secret-a")}
            valid_until: {TODAY}
        grants:
          - principal: bank-a
            products: [capital-match]
            quota: {{calls_per_day: 5}}
            purpose: applicant verification
            valid_from: {TOMORROW}
          - principal: bank-a
            products: [enterprise-stats, capital-match]
            budget: {{enterprises: {{epsilon: 1.0, delta: 0.0}}}}
            purpose: credit-risk assessment
        """,
    )
    p = load()
    bank = p.authenticate_token("secret-a", TODAY)
    assert bank.id == "bank-a"
    decision = p.authorize(bank, "capital-match", TODAY)
    assert decision.grant is not None and decision.grant.source == "policies/ops.yaml:13"
    assert p.authorize(bank, "capital-match", TOMORROW).reason == "principal_expired"
    assert unauthenticated(lambda: p.authenticate_token("secret-a", TOMORROW)).reason == (
        "principal_expired"
    )
