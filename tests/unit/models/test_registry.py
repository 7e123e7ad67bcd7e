from __future__ import annotations

from typing import Any

import pytest

from zone.audit import AuditChain
from zone.errors import AlreadyExists, InvalidArgument, NotFound
from zone.jobs import JobState, JobStore
from zone.models.registry import ModelRegistry
from zone.state import StateStore

MODEL: dict[str, Any] = {
    "family": "logistic_regression",
    "features": ["employees", "tax_paid"],
    "weights": [0.25, -1.5],
    "intercept": 0.1,
    "scaling": {"employees": [0, 5000], "tax_paid": [0, 1e7]},
}
METRICS = {"accuracy": 0.81, "epsilon": 1.0}


@pytest.fixture
def audit(store: StateStore) -> AuditChain:
    return AuditChain(store)


@pytest.fixture
def jobs(store: StateStore, audit: AuditChain) -> JobStore:
    return JobStore(store, audit)


@pytest.fixture
def models(store: StateStore, audit: AuditChain) -> ModelRegistry:
    return ModelRegistry(store, audit)


def finished_job(jobs: JobStore, owner: str = "bank-a") -> str:
    job = jobs.create(principal=owner, product="lr", dataset="enterprises", spec={}, release_id="r")
    jobs.transition(job.job_id, JobState.RUNNING)
    jobs.transition(job.job_id, JobState.SUCCEEDED)
    return job.job_id


def test_save_then_get_returns_the_model(
    models: ModelRegistry, jobs: JobStore, audit: AuditChain
) -> None:
    job_id = finished_job(jobs)
    model_id = models.save_model(
        owner="bank-a", product="lr", job_id=job_id, model=MODEL, metrics=METRICS
    )
    got = models.get_model(model_id)
    assert (got.model_id, got.owner, got.product, got.job_id) == (model_id, "bank-a", "lr", job_id)
    assert dict(got.model) == MODEL and dict(got.metrics) == METRICS
    with pytest.raises(TypeError):
        got.model["weights"] = []  # type: ignore[index]
    saved = [e for e in audit.entries() if e.kind == "model.saved"]
    assert [e.record["model_id"] for e in saved] == [model_id]


def test_list_models_is_per_owner_newest_first(models: ModelRegistry, jobs: JobStore) -> None:
    ids = [
        models.save_model(
            owner=owner, product="lr", job_id=finished_job(jobs, owner), model=MODEL, metrics={}
        )
        for owner in ["a", "b", "a"]
    ]
    assert [m.model_id for m in models.list_models("a")] == [ids[2], ids[0]]
    assert [m.model_id for m in models.list_models("b")] == [ids[1]]
    assert models.list_models("c") == []


def test_unknown_model_is_not_found(models: ModelRegistry, jobs: JobStore) -> None:
    with pytest.raises(NotFound):
        models.get_model("nope")


def test_a_model_needs_its_keys_a_job_and_one_per_job(
    models: ModelRegistry, jobs: JobStore
) -> None:
    job_id = finished_job(jobs)
    with pytest.raises(InvalidArgument, match="intercept, scaling"):
        models.save_model(
            owner="bank-a",
            product="lr",
            job_id=job_id,
            model={k: MODEL[k] for k in ("family", "features", "weights")},
            metrics={},
        )
    with pytest.raises(NotFound):
        models.save_model(owner="bank-a", product="lr", job_id="nope", model=MODEL, metrics={})
    models.save_model(owner="bank-a", product="lr", job_id=job_id, model=MODEL, metrics={})
    with pytest.raises(AlreadyExists):
        models.save_model(owner="bank-a", product="lr", job_id=job_id, model=MODEL, metrics={})


def test_save_model_in_a_rolled_back_transaction_leaves_nothing(
    models: ModelRegistry, store: StateStore, jobs: JobStore, audit: AuditChain
) -> None:
    job_id = finished_job(jobs)
    before = audit.entries()
    with pytest.raises(RuntimeError, match="release"), store.write() as conn:
        models.save_model(
            owner="bank-a", product="lr", job_id=job_id, model=MODEL, metrics={}, conn=conn
        )
        raise RuntimeError("release check failed")
    assert models.list_models("bank-a") == []
    assert audit.entries() == before
