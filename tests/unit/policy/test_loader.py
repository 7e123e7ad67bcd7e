from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from zone.errors import ValidationFailed
from zone.policy import (
    EMPTY_DIGEST,
    Budget,
    PolicySet,
    Price,
    ProductRef,
    load_policies,
    token_digest,
)

Write = Callable[[str, str], Path]
Load = Callable[[], PolicySet]
Problems = Callable[[], list[str]]

TOKEN_A = token_digest("token-a")
TOKEN_B = token_digest("token-b")

OPS = f"""
principals:
  - id: bank-a
    role: operator
    organisation: Example Bank A
    token_sha256: {TOKEN_A}
    valid_until: 2027-12-31
  - id: admin-1
    role: admin
    organisation: Zone
    cert_identity: admin-1.zone.example
grants:
  - principal: bank-a
    products: [enterprise-stats, enterprise-default-lr, capital-match]
    budget: {{enterprises: {{epsilon: 5.0, delta: 1.0e-6}}}}
    per_job_epsilon: 2.0
    quota: {{calls_per_day: 10000}}
    price: {{per_call: 0.05, currency: CNY}}
    purpose: credit-risk assessment
dataset_caps:
  enterprises: {{epsilon: 50.0, delta: 1.0e-5}}
"""


SECOND = """
principals:
  - id: bank-b
    role: operator
    organisation: Example Bank B
    token_sha256: {token}
    cert_identity: {cert}
"""


def test_loads_a_valid_directory(write: Write, load: Load) -> None:
    write("ops.yaml", OPS)
    policy = load()
    assert policy.source_files == ("policies/ops.yaml",)
    assert set(policy.principals) == {"bank-a", "admin-1"}
    assert policy.principals["bank-a"].valid_until == datetime.date(2027, 12, 31)
    assert policy.principals["admin-1"].role == "admin"
    [grant] = policy.grants
    assert grant.principal == "bank-a"
    assert grant.products == ("enterprise-stats", "enterprise-default-lr", "capital-match")
    assert dict(grant.budget) == {"enterprises": Budget(5.0, 1e-6)}
    assert grant.per_job_epsilon == 2.0
    assert grant.calls_per_day == 10000
    assert grant.price == Price("CNY", per_call_micro=50_000)
    assert grant.purpose == "credit-risk assessment"
    assert grant.public_interest is False
    assert grant.source == "policies/ops.yaml:12"
    assert dict(policy.dataset_caps) == {"enterprises": Budget(50.0, 1e-5)}
    assert policy.digest.startswith("sha256:") and len(policy.digest) == 7 + 64


def test_empty_directory_gives_an_empty_policy_set(policies_dir: Path, load: Load) -> None:
    (policies_dir / "README.md").write_text("not a policy")
    policy = load()
    assert policy.principals == {} and policy.grants == () and policy.source_files == ()
    assert policy.digest == EMPTY_DIGEST == PolicySet.empty().digest


def test_empty_file_is_an_empty_policy(write: Write, load: Load) -> None:
    write("empty.yaml", "# nothing yet\n")
    assert load().source_files == ("policies/empty.yaml",)


def test_directory_without_admin_is_fine(write: Write, load: Load) -> None:
    write("ops.yaml", OPS.replace("role: admin", "role: researcher"))
    assert load().principals["admin-1"].role == "researcher"


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as info:
        load_policies(tmp_path / "nope", {}, ())
    assert [str(p) for p in info.value.problems] == ["nope: policy directory not found"]


def test_source_root(write: Write, policies_dir: Path) -> None:
    write("ops.yaml", "grants: 1\n")
    with pytest.raises(ValidationFailed) as info:
        load_policies(policies_dir, {}, (), source_root=policies_dir)
    assert [p.source for p in info.value.problems] == ["ops.yaml"]


def test_yml_files_are_refused_and_hidden_files_ignored(write: Write, problems: Problems) -> None:
    write(".#ops.yaml", "{{{")
    write("ops.yml", OPS)
    assert problems() == ["policies/ops.yml: policy files must be named *.yaml"]


def test_yaml_syntax_error(write: Write, problems: Problems) -> None:
    write("ops.yaml", "principals:\n  - id: a\n    role: [operator\n")
    [problem] = problems()
    assert problem.startswith("policies/ops.yaml:4: invalid YAML")


def test_duplicate_yaml_key(write: Write, problems: Problems) -> None:
    write("ops.yaml", "grants: []\nprincipals: []\ngrants: []\n")
    assert problems() == ["policies/ops.yaml:3: duplicate key 'grants'"]


def test_file_not_utf8(policies_dir: Path, problems: Problems) -> None:
    (policies_dir / "ops.yaml").write_bytes(b"principals: [\xff]\n")
    assert problems() == ["policies/ops.yaml: cannot read: not valid UTF-8"]


def test_top_level_must_be_a_mapping(write: Write, problems: Problems) -> None:
    write("ops.yaml", "- id: bank-a\n")
    [problem] = problems()
    assert problem.startswith("policies/ops.yaml:1: Input should be a valid dictionary")


def test_schema_errors_have_file_and_line(write: Write, problems: Problems) -> None:
    text = OPS.replace("organisation: Zone", "organisation: Zone\n    colour: blue")
    text = text.replace("calls_per_day: 10000", "calls_per_day: lots")
    write("ops.yaml", text)
    assert problems() == [
        "policies/ops.yaml:10: principals[1].colour: Extra inputs are not permitted",
        "policies/ops.yaml:17: grants[0].quota.calls_per_day: Input should be a valid integer",
    ]


def test_plaintext_token_is_refused(write: Write, problems: Problems) -> None:
    write("ops.yaml", OPS.replace(f"token_sha256: {TOKEN_A}", "token: plain-secret"))
    [problem] = problems()
    assert problem.startswith("policies/ops.yaml:5: principals[0].token: ")
    assert "store token_sha256" in problem and "plain-secret" not in problem


def test_principal_needs_a_credential(write: Write, problems: Problems) -> None:
    write("ops.yaml", OPS.replace("    cert_identity: admin-1.zone.example\n", ""))
    assert problems() == [
        "policies/ops.yaml:7: principal 'admin-1' needs a credential: token_sha256 or cert_identity"
    ]


def test_duplicate_principal_across_files(write: Write, problems: Problems) -> None:
    write("a.yaml", OPS)
    write(
        "b.yaml",
        SECOND.format(token=TOKEN_B, cert="other").replace("bank-b", "bank-a"),
    )
    assert problems() == [
        "policies/b.yaml:2: duplicate principal id 'bank-a' (first defined at policies/a.yaml:2)"
    ]


def test_shared_token_digest(write: Write, problems: Problems) -> None:
    write("a.yaml", OPS)
    write("b.yaml", SECOND.format(token=TOKEN_A, cert="bank-b.zone.example"))
    assert problems() == [
        "policies/b.yaml:5: token_sha256 is already used by principal 'bank-a';"
        " each principal needs its own"
    ]


def test_shared_cert_identity(write: Write, problems: Problems) -> None:
    write("a.yaml", OPS)
    write("b.yaml", SECOND.format(token=TOKEN_B, cert="admin-1.zone.example"))
    assert problems() == [
        "policies/b.yaml:6: cert_identity is already used by principal 'admin-1';"
        " each principal needs its own"
    ]


def test_grant_to_unknown_principal(write: Write, problems: Problems) -> None:
    write("ops.yaml", OPS.replace("  - principal: bank-a", "  - principal: bank-z"))
    assert problems() == ["policies/ops.yaml:12: grant names unknown principal 'bank-z'"]


def test_grant_to_principal_of_another_file(write: Write, load: Load) -> None:
    write(
        "a.yaml", "grants:\n  - principal: bank-b\n    products: [capital-match]\n    purpose: p\n"
    )
    write("b.yaml", SECOND.format(token=TOKEN_B, cert="bank-b.zone.example"))
    policy = load()
    assert policy.grants[0].source == "policies/a.yaml:2"
    assert policy.source_files == ("policies/a.yaml", "policies/b.yaml")


def test_no_cascade_from_broken_principals(write: Write, problems: Problems) -> None:
    write("a.yaml", OPS.replace("role: operator", "role: banker"))
    write("b.yaml", "principals: [\n")
    found = problems()
    assert len(found) == 2
    assert found[0].startswith("policies/a.yaml:3: principals[0].role: Input should be")
    assert found[1].startswith("policies/b.yaml:2: invalid YAML")


def test_grant_naming_unknown_product(write: Write, problems: Problems) -> None:
    write("ops.yaml", OPS.replace("capital-match]", "capital-match,\n      mystery]"))
    assert problems() == ["policies/ops.yaml:14: unknown product 'mystery'"]


def test_budget_for_unknown_dataset(write: Write, problems: Problems) -> None:
    write(
        "ops.yaml",
        OPS.replace("delta: 1.0e-6}}", "delta: 1.0e-6}, ghosts: {epsilon: 3, delta: 0}}"),
    )
    assert problems() == ["policies/ops.yaml:14: budget for unknown dataset 'ghosts'"]


@pytest.mark.parametrize("product", ["enterprise-stats", "enterprise-default-lr"])
def test_dp_product_needs_a_budget(write: Write, problems: Problems, product: str) -> None:
    text = OPS.replace("enterprises: {epsilon: 5.0", "people: {epsilon: 5.0")
    text = text.replace(
        "[enterprise-stats, enterprise-default-lr, capital-match]",
        f"\n      - people-stats\n      - {product}",
    )
    write("ops.yaml", text)
    kind = "statistics" if product == "enterprise-stats" else "training"
    assert problems() == [
        f"policies/ops.yaml:15: {kind} product {product!r} uses dataset 'enterprises',"
        " but the grant has no budget for 'enterprises'"
    ]


def test_verification_product_needs_no_budget(write: Write, load: Load) -> None:
    text = OPS.replace(
        "[enterprise-stats, enterprise-default-lr, capital-match]", "[capital-match]"
    )
    text = text.replace("    budget: {enterprises: {epsilon: 5.0, delta: 1.0e-6}}\n", "")
    write("ops.yaml", text.replace("    per_job_epsilon: 2.0\n", ""))
    assert dict(load().grants[0].budget) == {}


def test_per_job_epsilon_above_budget(write: Write, problems: Problems) -> None:
    write("ops.yaml", OPS.replace("per_job_epsilon: 2.0", "per_job_epsilon: 6.0"))
    assert problems() == [
        "policies/ops.yaml:15: per_job_epsilon 6.0 exceeds the budget epsilon 5.0"
        " for dataset 'enterprises'"
    ]


def test_per_job_epsilon_equal_to_budget_is_fine(write: Write, load: Load) -> None:
    write("ops.yaml", OPS.replace("per_job_epsilon: 2.0", "per_job_epsilon: 5"))
    assert load().grants[0].per_job_epsilon == 5.0


def test_principal_validity_reversed(write: Write, problems: Problems) -> None:
    write(
        "ops.yaml",
        OPS.replace("valid_until: 2027", "valid_from: 2028-01-01\n    valid_until: 2027"),
    )
    assert problems() == [
        "policies/ops.yaml:6: valid_from 2028-01-01 is after valid_until 2027-12-31"
    ]


def test_grant_validity_reversed(write: Write, problems: Problems) -> None:
    text = OPS.replace(
        "purpose: credit-risk assessment",
        "purpose: credit-risk assessment\n    valid_until: 2026-01-01\n    valid_from: 2026-01-02",
    )
    write("ops.yaml", text)
    assert problems() == [
        "policies/ops.yaml:20: valid_from 2026-01-02 is after valid_until 2026-01-01"
    ]


def test_same_day_validity_is_fine(write: Write, load: Load) -> None:
    text = OPS.replace(
        "purpose: credit-risk assessment",
        "purpose: credit-risk assessment\n    valid_from: 2026-01-01\n    valid_until: 2026-01-01",
    )
    write("ops.yaml", text)
    assert load().grants[0].valid_from == datetime.date(2026, 1, 1)


def test_dataset_cap_for_unknown_dataset(write: Write, problems: Problems) -> None:
    write("ops.yaml", OPS + "  ghosts: {epsilon: 1.0, delta: 0.0}\n")
    assert problems() == ["policies/ops.yaml:21: dataset cap for unknown dataset 'ghosts'"]


def test_dataset_cap_set_twice(write: Write, problems: Problems) -> None:
    write("a.yaml", OPS)
    write("b.yaml", "dataset_caps:\n  enterprises: {epsilon: 9.0, delta: 0.0}\n")
    assert problems() == [
        "policies/b.yaml:2: dataset cap for 'enterprises' is already set at policies/a.yaml:20"
    ]


def test_problems_of_two_files_are_reported_together_and_sorted(
    write: Write, problems: Problems
) -> None:
    write(
        "b.yaml",
        OPS.replace("per_job_epsilon: 2.0", "per_job_epsilon: 9.0").replace(
            "  enterprises: {epsilon: 50.0", "  ghosts: {epsilon: 50.0"
        ),
    )
    write("a.yaml", SECOND.format(token=TOKEN_A, cert="x").replace("role: operator", "role: op"))
    write("c.yaml", "grants:\n  - principal: nobody\n    products: [nothing]\n    purpose: p\n")
    assert problems() == [
        "policies/a.yaml:3: principals[0].role:"
        " Input should be 'operator', 'researcher', 'admin' or 'supervisor'",
        "policies/b.yaml:15: per_job_epsilon 9.0 exceeds the budget epsilon 5.0"
        " for dataset 'enterprises'",
        "policies/b.yaml:20: dataset cap for unknown dataset 'ghosts'",
        "policies/c.yaml:2: grant names unknown principal 'nobody'",
        "policies/c.yaml:3: unknown product 'nothing'",
    ]


def test_validation_failed_message_lists_every_problem(write: Write, policies_dir: Path) -> None:
    write("ops.yaml", "grants: 1\ndataset_caps: 2\n")
    with pytest.raises(ValidationFailed) as info:
        load_policies(policies_dir, {}, ())
    assert "2 problem(s)" in str(info.value)
    assert "policies/ops.yaml:1: grants" in str(info.value)
    assert "policies/ops.yaml:2: dataset_caps" in str(info.value)


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name] + b"\0")
    return "sha256:" + h.hexdigest()


def test_digest_is_deterministic_and_follows_the_formula(write: Write, load: Load) -> None:
    a = write("a.yaml", OPS)
    b = write("b.yaml", "# empty\n")
    first = load().digest
    assert first == load().digest
    assert first == _digest({"a.yaml": a.read_bytes(), "b.yaml": b.read_bytes()})


def test_digest_changes_with_content_and_names(
    write: Write, load: Load, policies_dir: Path
) -> None:
    write("a.yaml", OPS)
    before = load().digest
    write("a.yaml", OPS + "# a comment\n")
    after_edit = load().digest
    (policies_dir / "a.yaml").rename(policies_dir / "b.yaml")
    after_rename = load().digest
    assert len({before, after_edit, after_rename}) == 3


def test_products_are_checked_against_the_given_catalog(write: Write, policies_dir: Path) -> None:
    write("ops.yaml", OPS)
    catalog = {"enterprise-stats": ProductRef("enterprises", "statistics")}
    with pytest.raises(ValidationFailed) as info:
        load_policies(policies_dir, catalog, ["enterprises"])
    assert [p.line for p in info.value.problems] == [13, 13]


def test_grants_are_not_blamed_on_an_unparsable_file(write: Write, problems: Problems) -> None:
    write(
        "a.yaml", "grants:\n  - principal: bank-b\n    products: [capital-match]\n    purpose: p\n"
    )
    write("b.yaml", SECOND.format(token=TOKEN_B, cert="c") + "  - {\n")
    [problem] = problems()
    assert problem.startswith("policies/b.yaml:")
    assert "invalid YAML" in problem


def test_policies_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "policies").write_text("principals: []\n")
    with pytest.raises(ValidationFailed) as info:
        load_policies(tmp_path / "policies", {}, ())
    assert [str(p) for p in info.value.problems] == ["policies: policies must be a directory"]


def test_sources_are_relative_even_with_a_relative_root(
    write: Write, policies_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("ops.yaml", "grants: 1\n")
    monkeypatch.chdir(policies_dir.parent)
    with pytest.raises(ValidationFailed) as info:
        load_policies(policies_dir.absolute(), {}, (), source_root=Path("."))
    assert [p.source for p in info.value.problems] == ["policies/ops.yaml"]
