"""Models follow their data: a kept model scores on the dataset version it was trained on.

Each kept model's training job records the dataset version it read (its spec's
``dataset_version``). When the zone serves another version of that dataset (an activation,
a reload), the model's weights describe data the zone no longer serves, so Score refuses it
(FAILED_PRECONDITION naming both versions) until an administrator reviews it and approves it
again: the one approval mechanism is the model review (``zone models review|approve``,
``zone.products.verification.review``), whose approvals record the dataset version served when
the decision was made (migration 0016). Rolling back to the training version needs no new
approval.

Call :func:`require_serving` after the ownership check, so that a caller cannot learn anything
about models that are not its own (an unknown or foreign model keeps answering NOT_FOUND).
"""

from __future__ import annotations

from zone.errors import FailedPrecondition
from zone.jobs.records import select_job
from zone.models.registry import ModelRecord
from zone.models.reviews import ModelDecision
from zone.state.api import State


def trained_on(state: State, model: ModelRecord) -> str:
    """The dataset version the model's training job read ("" if the job recorded none).

    Raises:
        NotFound: the model's job is unknown.
    """
    with state.read() as tx:
        job = select_job(tx, model.job_id)
    return str(job.spec.get("dataset_version", ""))


def may_serve(trained: str, serving: str, decision: ModelDecision | None) -> bool:
    """Whether an approved model may score while ``serving`` is the dataset version served."""
    if decision is None or not decision.approved:
        return False
    return serving == trained or decision.dataset_version == serving


def require_serving(
    model_id: str, trained: str, serving: str, decision: ModelDecision | None
) -> None:
    """Refuse a model approved for another dataset version than the one served.

    Call it once the decision is known to be an approval.

    Raises:
        FailedPrecondition: the served version is neither the training version nor the
            version of the approval in force (reason ``model_version_changed``).
    """
    if not may_serve(trained, serving, decision):
        raise FailedPrecondition(
            f"model {model_id} was trained on dataset version {trained or '(unrecorded)'}; "
            f"version {serving} is served now: an administrator must review it and approve it "
            "again for this version (zone models review, zone models approve)",
            reason="model_version_changed",
        )
