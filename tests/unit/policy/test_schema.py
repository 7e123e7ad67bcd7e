from __future__ import annotations

import datetime
from typing import Any

import pydantic
import pytest
import yaml

from zone.policy import PLAINTEXT_TOKEN_MESSAGE, GrantSpec, PolicyFile, PrincipalSpec

EXAMPLE = """
principals:
  - id: bank-a
    role: operator
    organisation: Example Bank A
    token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    cert_identity: bank-a.zone.example
    valid_from: 2026-01-01
    valid_until: 2027-12-31
grants:
  - principal: bank-a
    products: [enterprise-stats, enterprise-default-lr, capital-match]
    budget: {enterprises: {epsilon: 5.0, delta: 1.0e-6}}
    per_job_epsilon: 2.0
    quota: {calls_per_day: 10000}
    price: {per_call: 0.05, per_job: 0.0, currency: CNY}
    purpose: credit-risk assessment
    public_interest: false
    valid_from: 2026-01-01
    valid_until: 2027-12-31
dataset_caps:
  enterprises: {epsilon: 50.0, delta: 1.0e-5}
"""

PRINCIPAL: dict[str, Any] = {
    "id": "bank-a",
    "role": "operator",
    "organisation": "Example Bank A",
    "token_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}
GRANT: dict[str, Any] = {
    "principal": "bank-a",
    "products": ["enterprise-stats"],
    "budget": {"enterprises": {"epsilon": 5.0, "delta": 1e-6}},
    "purpose": "credit-risk assessment",
}


def errors(model: type[pydantic.BaseModel], data: dict[str, Any]) -> list[tuple[Any, str]]:
    with pytest.raises(pydantic.ValidationError) as info:
        model.model_validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_the_documented_example_is_valid() -> None:
    policy = PolicyFile.model_validate(yaml.safe_load(EXAMPLE))
    principal, grant = policy.principals[0], policy.grants[0]
    assert principal.valid_until == datetime.date(2027, 12, 31)
    assert principal.cert_identity == "bank-a.zone.example"
    assert grant.budget["enterprises"].delta == 1e-6
    assert grant.quota is not None and grant.quota.calls_per_day == 10000
    assert grant.price is not None and grant.price.currency == "CNY"
    assert policy.dataset_caps["enterprises"].epsilon == 50.0


def test_every_section_is_optional() -> None:
    assert PolicyFile.model_validate({}) == PolicyFile()


def test_models_are_frozen() -> None:
    principal = PrincipalSpec.model_validate(PRINCIPAL)
    with pytest.raises(pydantic.ValidationError):
        principal.role = "admin"


def test_integer_epsilon_is_accepted_as_a_number() -> None:
    grant = GrantSpec.model_validate(
        {**GRANT, "budget": {"enterprises": {"epsilon": 5, "delta": 0}}}
    )
    assert grant.budget["enterprises"].epsilon == 5.0


def test_plaintext_token_is_refused_with_a_hint() -> None:
    data = {**PRINCIPAL, "token": "s3cret-value"}
    [(loc, msg)] = errors(PrincipalSpec, data)
    assert loc == ("token",)
    assert "token_sha256" in msg and msg.endswith(PLAINTEXT_TOKEN_MESSAGE)
    assert "s3cret-value" not in msg


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"id": "Bank-A"}, ("id",)),
        ({"id": "-bank"}, ("id",)),
        ({"id": "a" * 65}, ("id",)),
        ({"role": "root"}, ("role",)),
        ({"organisation": " "}, ("organisation",)),
        (
            {"token_sha256": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"},
            ("token_sha256",),
        ),
        ({"token_sha256": "abc"}, ("token_sha256",)),
        ({"cert_identity": ""}, ("cert_identity",)),
        ({"valid_from": "2026-01-01"}, ("valid_from",)),
        ({"valid_until": datetime.datetime(2026, 1, 1)}, ("valid_until",)),
        ({"nickname": "a"}, ("nickname",)),
    ],
)
def test_principal_field_errors(change: dict[str, Any], loc: tuple[str, ...]) -> None:
    assert [e[0] for e in errors(PrincipalSpec, {**PRINCIPAL, **change})] == [loc]


def _budget(epsilon: Any, delta: Any) -> dict[str, Any]:
    return {"budget": {"enterprises": {"epsilon": epsilon, "delta": delta}}}


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (_budget(0.0, 0.0), ("budget", "enterprises", "epsilon")),
        (_budget(-1.0, 0.0), ("budget", "enterprises", "epsilon")),
        (_budget(float("inf"), 0.0), ("budget", "enterprises", "epsilon")),
        (_budget(float("nan"), 0.0), ("budget", "enterprises", "epsilon")),
        (_budget("1e-6", 0.0), ("budget", "enterprises", "epsilon")),
        (_budget(True, 0.0), ("budget", "enterprises", "epsilon")),
        (_budget(1.0, 1.0), ("budget", "enterprises", "delta")),
        (_budget(1.0, -0.1), ("budget", "enterprises", "delta")),
        ({"budget": {"enterprises": {"epsilon": 1.0}}}, ("budget", "enterprises", "delta")),
        ({"per_job_epsilon": 0}, ("per_job_epsilon",)),
        ({"quota": {"calls_per_day": -1}}, ("quota", "calls_per_day")),
        ({"quota": {"calls_per_day": 1.5}}, ("quota", "calls_per_day")),
        ({"quota": {"calls_per_day": True}}, ("quota", "calls_per_day")),
        ({"price": {"per_call": -0.01, "currency": "CNY"}}, ("price", "per_call")),
        ({"price": {"per_job": 1.0, "currency": "cny"}}, ("price", "currency")),
        ({"price": {"per_call": 1.0}}, ("price", "currency")),
        ({"products": []}, ("products",)),
        ({"products": "enterprise-stats"}, ("products",)),
        ({"purpose": ""}, ("purpose",)),
        ({"public_interest": "yes"}, ("public_interest",)),
        ({"principal": "Bank A"}, ("principal",)),
    ],
)
def test_grant_field_errors(change: dict[str, Any], loc: tuple[str, ...]) -> None:
    assert [e[0] for e in errors(GrantSpec, {**GRANT, **change})] == [loc]


def test_purpose_is_required() -> None:
    data = {k: v for k, v in GRANT.items() if k != "purpose"}
    assert errors(GrantSpec, data) == [(("purpose",), "Field required")]


@pytest.mark.parametrize("section", ["principals", "grants", "dataset_caps"])
def test_sections_have_a_type(section: str) -> None:
    assert [e[0] for e in errors(PolicyFile, {section: "x"})] == [(section,)]


def test_unknown_top_level_key() -> None:
    assert errors(PolicyFile, {"grant": []}) == [(("grant",), "Extra inputs are not permitted")]


def test_all_errors_of_a_file_are_reported_together() -> None:
    data = {"principals": [{**PRINCIPAL, "extra": 1}], "grants": [GRANT, {**GRANT, "extra": 1}]}
    assert sorted(e[0] for e in errors(PolicyFile, data)) == [
        ("grants", 1, "extra"),
        ("principals", 0, "extra"),
    ]
