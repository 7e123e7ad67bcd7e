"""AdminService: policy reload (atomic swap, bad sets refused) and audit verification."""

from __future__ import annotations

import sqlite3

import pytest
from zonekit import client, config_of

from zone.client import FailedPreconditionError, PermissionDeniedError, UnauthenticatedError
from zone.server.app import RunningZone


def test_reload_swaps_in_a_valid_set(zone: RunningZone) -> None:
    policy_file = config_of(zone).policies_dir / "demo.yaml"
    text = policy_file.read_text()
    # Revoke the researcher's grant: its products disappear after the reload.
    start = text.index("  - principal: city-research")
    end = text.index("dataset_caps:")
    policy_file.write_text(text[:start] + "\n" + text[end:])
    with client(zone, "researcher") as researcher:
        assert researcher.list_products()
        with client(zone, "admin") as admin:
            result = admin.reload_policies()
        assert result.policy_digest != result.previous_digest
        assert result.policy_digest == zone.services.serving.current.digest
        assert researcher.list_products() == []


def test_bad_set_is_refused_with_every_problem_and_running_set_stays(zone: RunningZone) -> None:
    digest = zone.services.serving.current.digest
    policies_dir = config_of(zone).policies_dir
    (policies_dir / "broken.yaml").write_text(
        "principals:\n"
        "  - id: bank-a\n"  # duplicate id
        "    role: operator\n"
        "    organisation: X\n"
        "    token_sha256: " + "a" * 64 + "\n"
        "grants:\n"
        "  - principal: nobody\n"  # unknown principal
        "    products: [no-such-product]\n"  # unknown product
        "    purpose: test\n"
    )
    with client(zone, "admin") as admin, pytest.raises(FailedPreconditionError) as err:
        admin.reload_policies()
    assert zone.services.serving.current.digest == digest
    assert len(err.value.details) >= 3
    assert all(line.startswith("policies/") for line in err.value.details)
    assert any("duplicate principal id" in line for line in err.value.details)
    with client(zone, "bank") as bank:
        assert bank.list_datasets()  # the running set still serves
    reloads = [e.record for e in zone.services.audit.entries() if e.kind == "policy.reload"]
    assert reloads[-1]["outcome"] == "rejected"


def test_reload_can_revoke_a_token(zone: RunningZone) -> None:
    policy_file = config_of(zone).policies_dir / "demo.yaml"
    text = policy_file.read_text()
    policy_file.write_text(text.replace("valid_until: 2030-12-31", "valid_until: 2020-01-01", 1))
    with client(zone, "admin") as admin:
        admin.reload_policies()
    with client(zone, "bank") as bank, pytest.raises(UnauthenticatedError):
        bank.list_datasets()


def test_operator_cannot_administer(shared_zone: RunningZone) -> None:
    with client(shared_zone, "bank") as bank:
        with pytest.raises(PermissionDeniedError):
            bank.reload_policies()
        with pytest.raises(PermissionDeniedError):
            bank.verify_audit()


def test_verify_audit_detects_an_edited_record(zone: RunningZone) -> None:
    with client(zone, "admin") as admin:
        assert admin.verify_audit().ok
        with client(zone, "bank") as bank:
            bank.list_datasets()
        zone.services.audit.flush()  # the call's journaled record in the chain first
        conn = sqlite3.connect(config_of(zone).state_db)
        try:
            conn.execute("DROP TRIGGER audit_log_no_update")  # an attacker with file access
            conn.execute(
                "UPDATE audit_log SET record = replace(record, 'bank-a', 'bank-b') "
                "WHERE seq = (SELECT max(seq) FROM audit_log WHERE record LIKE '%bank-a%')"
            )
            conn.commit()
            tampered = conn.execute(
                "SELECT max(seq) FROM audit_log WHERE record LIKE '%bank-b%'"
            ).fetchone()[0]
        finally:
            conn.close()
        result = admin.verify_audit()
    assert not result.ok
    assert result.first_bad_seq == tampered
