"""What happens to a training job's charge and rows when its worker reports an event.

``JobOutcomes`` turns executor events into state changes, each through the state database
(``JobStore``, the release desk, the model registry), so that whichever process handles them
(the replica whose local executor ran the job, or a ``zone worker`` that ran it) leaves the
same rows, and any replica serves ``WatchJob`` from them. The charging rule: a job that ends
before its worker reported ``touched_data`` is refunded; after that it is charged even if it
fails or is cancelled; a success is settled ``released`` with its receipt in the transaction
that stores its result. Every settlement is by the job's ``release_id`` and happens once
(``AlreadySettled`` otherwise), and every job move is one conditional UPDATE: handling an
event twice, or on two machines, cannot charge twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from zone.audit import ReleasedArtifact, canonical_json
from zone.errors import Unavailable
from zone.jobs import TERMINAL, IllegalTransition, Job, JobState, JobStore
from zone.jobs.records import lock_job
from zone.ledger.charges import AlreadySettled
from zone.models.registry import ModelRegistry
from zone.release.desk import FENCED, ReleaseDesk, Ticket
from zone.release.receipt import ProductPart, Receipt, TrainingPart
from zone.state.api import State, Tx

log = logging.getLogger(__name__)

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
    "the worker was lost",
    "the dataset version on the worker differs",
)
EVENT_RETRY_SECONDS = 300.0
"""How long a job event is retried while the state refuses writes (database down, fenced)."""
LOST = "the worker was lost (no heartbeat)"
"""Why a job whose ``zone worker`` stopped sending heartbeats is failed."""


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


class JobOutcomes:
    """Settles jobs from their executor events (no grpc, no torch here).

    Args:
        state: The state database.
        desk: The release desk (settles the job's reservation).
        jobs: The job store.
        models: The model registry (``keep_in_zone`` models).
        changed: Notified after each event is handled (``WatchJob`` waits on it).
    """

    def __init__(
        self,
        *,
        state: State,
        desk: ReleaseDesk,
        jobs: JobStore,
        models: ModelRegistry,
        changed: threading.Condition | None = None,
    ) -> None:
        self._store = state
        self._desk = desk
        self._jobs = jobs
        self._models = models
        self._changed = changed or threading.Condition()
        self._stopping = threading.Event()  # set at shutdown: events are no longer retried
        self._handlers: dict[str, Callable[[str, Mapping[str, Any]], None]] = {
            "started": self._on_started,
            "touched_data": self._on_touched,
            "progress": self._on_progress,
            "result": self._succeed,
            "error": self._on_error,
            "cancelled": self._on_cancelled,
        }

    def on_event(self, job_id: str, event: dict[str, Any]) -> None:
        """Handle one executor event of a job (an ``OnEvent``; never raises)."""
        self._on_event(job_id, event)

    def lost(self, job_id: str) -> bool:
        """Fail a job whose ``zone worker`` died, by the charging rule; False if it had ended.

        Charged if the job is marked as having touched data, refunded otherwise, whether it
        was QUEUED or RUNNING: on workers the mark is durable before the job's child reads
        any data (``zone.worker.child``, ``JobStore.confirm_touched``), and the settlement
        holds the job's row, so a child confirming at that moment either is seen here
        (charged) or is refused (it reads nothing). Idempotent: a second call changes nothing.
        """
        try:
            if self._jobs.get(job_id).state in TERMINAL:
                return False
            self._end(job_id, JobState.FAILED, LOST)
        except IllegalTransition:  # ended meanwhile by its own worker or another reaper
            return False
        finally:
            with self._changed:
                self._changed.notify_all()
        return True

    def _on_event(self, job_id: str, event: dict[str, Any]) -> None:
        deadline = time.monotonic() + EVENT_RETRY_SECONDS
        while True:
            try:
                self._handle(job_id, event)
            except Unavailable as exc:  # the database is down, or this replica is fenced
                retry = exc.reason != FENCED and not self._stopping.is_set()
                if retry and time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                log.exception("job %s: event %s lost", job_id, event.get("event"))
            except Exception:  # noqa: BLE001 - an event thread must survive; the job shows it
                log.exception("job %s: handling event %s failed", job_id, event.get("event"))
            break
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

        The job is read inside the write transaction, its row held (``lock_job``): a move
        committed by another thread or replica just before (QUEUED to RUNNING, a touched
        notice) decides the settlement, and none can slip in between.
        """
        with self._store.write() as conn:
            job = lock_job(conn, job_id)
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
