"""Training jobs for callers: authorize, plan, cap, reserve, run in a worker, settle.

The full requested epsilon is reserved when the job is submitted (before any data is read).
The worker reports when it first touches the data; the charging rule follows from that:
a job that ends (fails, is cancelled, or the server restarts) before touching data is refunded;
one that touched data is charged even if it produced nothing. A successful job is settled as
``released`` with its receipt, in the same transaction that stores its result (and, with
``keep_in_zone``, its model in the registry), so a crash can never leave a release without its
charge or a charge settled twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from zone.access import authorize_product, budget_account, check_epsilon_cap
from zone.audit import ReleasedArtifact, canonical_json
from zone.catalog import DatasetCatalog, Product, TrainingProduct
from zone.catalog.info import budget_key
from zone.catalog.visibility import public_row_count
from zone.errors import FailedPrecondition, NotFound
from zone.jobs import TERMINAL, Executor, Job, JobState, JobStore
from zone.jobs.records import select_job
from zone.ledger import Amount
from zone.ledger.charges import AlreadySettled
from zone.models.registry import ModelRegistry
from zone.policy import PolicySet, Principal
from zone.products.training.request import TrainingRequest
from zone.products.training.spec import plan_training
from zone.release.desk import Order, ReleaseDesk, Ticket
from zone.release.receipt import ProductPart, Receipt, TrainingPart
from zone.state.api import State, Tx

log = logging.getLogger(__name__)

WORKER = "zone.products.training.worker:run"
# What a worker imports, and runs once on synthetic data, before its job arrives (names only:
# the server never imports them).
TRAINING_PRELOAD = (WORKER.partition(":")[0], "zone.products.training.warmup:warm_up")
# Wall time depends on the private row count (number of batches): logged, not released.
_NOT_RELEASED = frozenset({"event", "train_seconds"})
_MODEL_KEYS = ("family", "features", "weights", "intercept", "layers", "scaling")
# Reasons the executor itself gives; an exception's message could quote data, so for anything
# else the caller sees only the exception type (the full text is in the server's log).
_FIXED_REASONS = (
    "wall-time limit exceeded",
    "memory limit exceeded",
    "worker exited with code",
    "the executor shut down",
)
CANCEL_WAIT_SECONDS = 10.0


def _artifact(result: Mapping[str, Any], *, kept_in_zone: bool) -> ReleasedArtifact:
    """The model and metrics for the release registry (kept models too: they can leak)."""
    content = {k: result[k] for k in (*_MODEL_KEYS, "metrics") if k in result}
    return ReleasedArtifact("training", {**content, "kept_in_zone": kept_in_zone})


def caller_reason(reason: str) -> str:
    """What a caller may see of why a worker failed."""
    if reason.startswith(_FIXED_REASONS) or reason == "the worker exited without a result":
        return reason
    kind = reason.split(":", 1)[0].strip()
    log.warning("training worker failed: %s", reason)
    return f"worker failed ({kind})" if kind.isidentifier() else "worker failed"


def _receipt(job: Job, part: ProductPart, result: Mapping[str, Any], ticket: Ticket) -> Receipt:
    assert ticket.reservation is not None  # training always reserves budget
    return Receipt(
        release_id=ticket.release_id,
        request_id=job.spec.get("request_id", ""),
        principal=job.principal,
        product=job.product,
        dataset=job.dataset,
        dataset_version=job.spec.get("dataset_version", ""),
        policy_digest=job.spec.get("policy_digest", ""),
        output_digest=result["output_digest"],
        part=part,
        cost=ticket.reservation.cost,
    )


class TrainingJobs:
    """Submission, lifecycle and results of training jobs (no grpc, no torch here)."""

    def __init__(
        self,
        products: Mapping[str, Product],
        catalog: DatasetCatalog,
        *,
        row_count_granularity: int,
        state: State,
        desk: ReleaseDesk,
        jobs: JobStore,
        models: ModelRegistry,
        executor: Executor,
        changed: threading.Condition | None = None,
    ) -> None:
        self._products = products
        self._catalog = catalog
        self._granularity = row_count_granularity
        self._store = state
        self._desk = desk
        self._jobs = jobs
        self._models = models
        self._executor = executor
        # Notified after each worker event is handled (shared by services that run jobs).
        self._changed = changed or threading.Condition()
        self._handlers: dict[str, Callable[[str, Mapping[str, Any]], None]] = {
            "started": self._on_started,
            "touched_data": self._on_touched,
            "progress": self._on_progress,
            "result": self._succeed,
            "error": self._on_error,
            "cancelled": self._on_cancelled,
        }

    def shutdown(self, grace: float) -> None:
        """Stop the workers (their jobs are settled at the next start)."""
        self._executor.shutdown(grace)

    # --- submission ----------------------------------------------------------------------

    def submit(
        self, policies: PolicySet, principal: Principal, request: TrainingRequest, request_id: str
    ) -> Job:
        """Validate, reserve the full epsilon, queue the job; nothing is read from the data yet.

        Raises:
            PermissionDenied: product not granted, or epsilon above the per-job cap.
            InvalidArgument: features or hyperparameters outside the product's bounds.
            BudgetExhausted: the budget cannot cover the requested epsilon (nothing spent).
            QuotaExhausted: the product's call quota is spent (nothing spent).
        """
        product, grant = authorize_product(
            policies, principal, self._products, request.product, TrainingProduct
        )
        info = self._catalog.get(product.dataset)
        spec = plan_training(
            request,
            product,
            info.meta,
            db_path=info.path,  # the version file: the job reads the version it was planned on
            public_row_count=public_row_count(info, self._granularity),
            prefer_gpu=True,  # CUDA when present and the product allows it
        )
        check_epsilon_cap(spec.epsilon, product.max_epsilon_per_job, grant)
        account = budget_account(policies, principal, grant, product.dataset, budget_key(info))
        cost = Amount.cost(spec.epsilon, spec.delta)
        order = Order(
            principal=principal.id,
            grant=grant,
            product=product.id,
            unit="job",
            request_id=request_id,
            account=account,
            cost=cost,
        )
        created: list[Job] = []

        def create_job(tx: Tx) -> None:  # the reservation and the job commit together
            created.append(
                self._jobs.create(
                    principal=principal.id,
                    product=product.id,
                    dataset=product.dataset,
                    spec={
                        **json.loads(spec.to_json()),
                        "keep_in_zone": request.keep_in_zone,
                        "policy_digest": policies.digest,
                        "request_id": request_id,
                        "dataset_version": info.version,
                    },
                    release_id=order.release_id,
                    conn=tx,
                )
            )

        self._desk.reserve(order, admit=create_job)
        job = created[0]
        self._executor.start(job.job_id, WORKER, spec.to_json(), self._on_event)
        return job

    # --- worker events (executor threads) ------------------------------------------------

    def _on_event(self, job_id: str, event: dict[str, Any]) -> None:
        try:
            self._handle(job_id, event)
        except Exception:  # noqa: BLE001 - an event thread must survive; the job shows the state
            log.exception("job %s: handling event %s failed", job_id, event.get("event"))
        with self._changed:
            self._changed.notify_all()

    def wait_for_change(self, timeout: float) -> None:
        """Block until a worker event was handled (any job) or ``timeout`` seconds passed."""
        with self._changed:
            self._changed.wait(timeout)

    def _handle(self, job_id: str, event: dict[str, Any]) -> None:
        handler = self._handlers.get(str(event.get("event")))
        if handler is not None:  # other events ("exited", a worker's own) change no state
            handler(job_id, event)

    def _on_started(self, job_id: str, event: Mapping[str, Any]) -> None:
        self._jobs.transition(job_id, JobState.RUNNING)

    def _on_touched(self, job_id: str, event: Mapping[str, Any]) -> None:
        self._jobs.mark_touched(job_id)

    def _on_progress(self, job_id: str, event: Mapping[str, Any]) -> None:
        self._jobs.progress(job_id, int(event["epoch"]), float(event["epsilon_spent"]))

    def _on_error(self, job_id: str, event: Mapping[str, Any]) -> None:
        self._end(job_id, JobState.FAILED, caller_reason(str(event.get("reason", ""))))

    def _on_cancelled(self, job_id: str, event: Mapping[str, Any]) -> None:
        self._end(job_id, JobState.CANCELLED, "cancelled by the caller")

    def _succeed(self, job_id: str, event: Mapping[str, Any]) -> None:
        job = self._jobs.get(job_id)
        result = {k: v for k, v in event.items() if k not in _NOT_RELEASED}
        spent = float(result.get("epsilon_spent", float("inf")))
        if spent > float(job.spec["epsilon"]):
            self._end(job_id, JobState.FAILED, "privacy accounting exceeded the target")
            return
        ticket = self._desk.reopen(job.release_id)
        digest = "sha256:" + hashlib.sha256(canonical_json(result).encode()).hexdigest()
        artifact = _artifact(result, kept_in_zone=bool(job.spec.get("keep_in_zone")))
        with self._store.write() as tx:
            model_id = ""
            if job.spec.get("keep_in_zone"):
                model_id = self._models.save_model(
                    owner=job.principal,
                    product=job.product,
                    job_id=job_id,
                    model={k: result[k] for k in _MODEL_KEYS if k in result},
                    metrics=result.get("metrics", {}),
                    conn=tx,
                )
                result = {k: v for k, v in result.items() if k not in _MODEL_KEYS[2:]}
            stored = {
                **result,
                "model_id": model_id,
                "output_digest": digest,
                "release_id": ticket.release_id,
            }
            receipt = _receipt(job, self._receipt_part(job, stored), stored, ticket)
            self._desk.release(ticket, receipt, artifact, tx=tx)
            self._jobs.transition(job_id, JobState.SUCCEEDED, result=stored, conn=tx)
        self._after_end(job)

    def _receipt_part(self, job: Job, result: Mapping[str, Any]) -> ProductPart:
        """The product's part of a job's receipt (subclasses add their own fields)."""
        return TrainingPart(
            job_id=job.job_id,
            epsilon_spent=result.get("epsilon_spent"),
            accountant=result.get("accountant", ""),
            model_id=result["model_id"],
        )

    def _after_end(self, job: Job) -> None:
        """Called once a job has ended and its charge is settled (subclasses clean up)."""

    def _end(
        self, job_id: str, state: JobState, reason: str, *, running_touches: bool = False
    ) -> None:
        """Settle the charge by the rule (touched data: charged; else refunded) and end the job.

        The job is read inside the write transaction: a move committed by another thread or
        replica just before (QUEUED to RUNNING, a touched notice) decides the settlement.
        """
        with self._store.write() as conn:
            job = select_job(conn, job_id)
            self._settle(conn, job, reason, running_touches=running_touches)
            self._jobs.transition(job_id, state, reason=reason, conn=conn)
        self._after_end(job)

    def _settle(self, tx: Tx, job: Job, reason: str, *, running_touches: bool = False) -> None:
        if not job.release_id:
            return
        ticket = self._desk.reopen(job.release_id)
        touched = job.touched_data or (running_touches and job.state is JobState.RUNNING)
        try:
            if touched:
                self._desk.fail(ticket, reason, tx=tx)
            else:
                self._desk.refund(ticket, reason, tx=tx)
        except AlreadySettled:
            log.warning("job %s: charge %s was already settled", job.job_id, job.release_id)

    def recover(self, owner: str | None = None) -> int:
        """End every job left QUEUED or RUNNING as FAILED, settling its charge.

        After a restart (``owner`` None: every unfinished job), or for the jobs of one dead
        replica (``owner``: its id). A job that was RUNNING counts as having touched the data
        even if its worker's notice had not been recorded yet (the notice travels
        asynchronously): charged, never refunded.
        """
        stale = self._jobs.running(owner)
        reason = "server restarted" if owner is None else "replica died"
        for job in stale:
            self._end(job.job_id, JobState.FAILED, reason, running_touches=True)
        return len(stale)

    # --- queries --------------------------------------------------------------------------

    def get(self, principal: Principal, job_id: str) -> Job:
        """A job of the caller (any job for admins); others' jobs do not exist for the caller.

        Raises:
            NotFound: no such job visible to the caller.
        """
        try:
            job = self._jobs.get(job_id)
        except NotFound:
            raise NotFound("no such job", reason="unknown_job") from None
        if principal.role != "admin" and job.principal != principal.id:
            raise NotFound("no such job", reason="not_owner")
        return job

    def list(self, principal: Principal, limit: int) -> list[Job]:
        """The caller's jobs, newest first (all jobs for admins)."""
        owner = None if principal.role == "admin" else principal.id
        return self._jobs.list(owner, limit=max(1, min(limit or 100, 1000)))

    def cancel(self, principal: Principal, job_id: str) -> Job:
        """Cancel a queued or running job (the worker is killed).

        Raises:
            NotFound: no such job visible to the caller.
            FailedPrecondition: the job has already ended.
        """
        job = self.get(principal, job_id)
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            raise FailedPrecondition(f"job is {job.state.value}", reason="job_finished")
        if not self._executor.cancel(job_id):
            # Not this process's worker: a RUNNING job runs on another replica, which may
            # have read data before its notice arrived; it is charged, never refunded.
            self._end(job_id, JobState.CANCELLED, "cancelled by the caller", running_touches=True)
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        job = self._jobs.get(job_id)  # the executor reports the cancellation asynchronously
        while job.state not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.05)
            job = self._jobs.get(job_id)
        return job

    def result(self, principal: Principal, job_id: str) -> tuple[Job, Mapping[str, Any]]:
        """The released result of a succeeded job.

        Raises:
            NotFound: no such job visible to the caller.
            FailedPrecondition: the job has not succeeded.
        """
        job = self.get(principal, job_id)
        if job.state is not JobState.SUCCEEDED or job.result is None:
            raise FailedPrecondition(f"job is {job.state.value}; no result", reason="no_result")
        return job, job.result

    def watch(self, principal: Principal, job_id: str, poll: Callable[[], bool]) -> Iterator[Job]:
        """Yield the job each time it changes, until it ends; ``poll()`` waits between looks."""
        last: tuple[Any, ...] | None = None
        while True:
            job = self.get(principal, job_id)
            now = (job.state, job.epoch, job.epsilon_spent, job.reason)
            if now != last:
                last = now
                yield job
            if job.state not in (JobState.QUEUED, JobState.RUNNING) or not poll():
                return
