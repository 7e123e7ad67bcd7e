"""Corrections through the console: revoke and restore a kept model, suspend and resume."""

from __future__ import annotations

import pytest

from zone.errors import FailedPrecondition, InvalidArgument, NotFound
from zone.jobs import JobStore

MODEL = {"family": "logistic_regression", "features": ["a"], "weights": [0.5],
         "intercept": 0.0, "scaling": {}}  # fmt: skip


def _kept_model(console) -> str:
    services = console.services
    job = JobStore(services.store, services.audit).create(
        principal="bank-a", product="enterprise-default-lr", dataset="enterprises",
        spec={"epsilon": 1.0}, release_id="",
    )  # fmt: skip
    return services.models.save_model(
        owner="bank-a", product="enterprise-default-lr", job_id=job.job_id, model=MODEL,
        metrics={},
    )  # fmt: skip


def test_revoke_and_restore_a_model(console) -> None:
    model_id = _kept_model(console)
    admin = console.browser("admin")
    assert admin.post(f"/models/{model_id}/revoke", {"note": "leaked"}).status == 303
    with pytest.raises(NotFound):
        console.services.models.get_model(model_id)
    page = admin.get("/products").text
    assert "revoked" in page and "leaked" in page
    assert admin.post(f"/models/{model_id}/revoke", {"note": "again"}).status == 409
    assert console.browser("supervisor").post(f"/models/{model_id}/restore").status == 403
    assert admin.post(f"/models/{model_id}/restore", {"note": "false alarm"}).status == 303
    assert console.services.models.get_model(model_id).owner == "bank-a"
    kinds = [e.kind for e in console.services.audit.entries(limit=10_000)]
    assert kinds.count("model.revoked") == 1 and kinds.count("model.restored") == 1


def test_suspensions_are_checked_and_reversible(console) -> None:
    suspensions = console.deps.suspensions
    with pytest.raises(FailedPrecondition):
        suspensions.suspend("zone-admin", actor="zone-admin", note="")
    admin = console.browser("admin")
    assert admin.post("/principals/city-research/suspend", {"note": "n"}).status == 303
    assert admin.post("/principals/city-research/suspend", {"note": "n"}).status == 409
    assert suspensions.is_suspended("city-research")
    assert console.browser("researcher").get("/").status == 403
    assert admin.post("/principals/city-research/resume").status == 303
    assert admin.post("/principals/city-research/resume").status == 409
    assert not suspensions.is_suspended("city-research")
    assert admin.post("/principals/no-such/suspend").status == 404
    with pytest.raises(InvalidArgument):
        suspensions.suspend("x", actor="zone-admin", note="n" * 3000)
