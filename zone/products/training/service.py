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

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from zone.access import authorize_product, budget_account, check_epsilon_cap
from zone.catalog import DatasetCatalog, Product, TrainingProduct
from zone.catalog.info import budget_key
from zone.catalog.visibility import public_row_count
from zone.errors import FailedPrecondition, NotFound
from zone.jobs import TERMINAL, Executor, Job, JobState, JobStore
from zone.jobs.remote import ProcrastinateExecutor
from zone.jobs.store import CHANNEL as JOBS_CHANNEL
from zone.ledger import Amount
from zone.ledger.charges import REPLICA_DIED
from zone.models.registry import ModelRegistry
from zone.policy import PolicySet, Principal
from zone.products.training.hints import NoiseHints
from zone.products.training.outcomes import JobOutcomes
from zone.products.training.request import TrainingRequest
from zone.products.training.spec import plan_training
from zone.release.desk import Order, ReleaseDesk
from zone.state.api import State, Tx, Waiter

log = logging.getLogger(__name__)

WORKER = "zone.products.training.worker:run"
# What a worker imports, and runs once on synthetic data, before its job arrives (names only:
# the server never imports them).
TRAINING_PRELOAD = (WORKER.partition(":")[0], "zone.products.training.warmup:warm_up")
CANCEL_WAIT_SECONDS = 10.0
ON_WORKERS = "on_workers"
"""Key of a job's spec: true when the job runs on ``zone worker`` processes (procrastinate)."""


class TrainingJobs(JobOutcomes):
    """Submission, lifecycle and results of training jobs (no grpc, no torch here).

    With ``on_workers`` the executor runs jobs on ``zone worker`` processes, which settle
    them through the state database themselves; a restart of this process leaves them be.
    """

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
        on_workers: bool = False,
    ) -> None:
        # ``changed`` is shared by services that run jobs (WatchJob waits on it).
        super().__init__(state=state, desk=desk, jobs=jobs, models=models, changed=changed)
        self._products = products
        self._catalog = catalog
        self._granularity = row_count_granularity
        self._executor = executor
        self._on_workers = on_workers
        self._hints = NoiseHints()  # noise multipliers of earlier jobs (``hints``)
        self._queue = executor if isinstance(executor, ProcrastinateExecutor) else None
        if self._queue is not None:  # settle dead workers' jobs here too: none may be alive
            self._queue.keep(lost=self.lost, unfinished=self._unfinished_on_workers)
        self._listening = threading.Event()
        self._listener: threading.Thread | None = None
        waiter = state.listen(JOBS_CHANNEL) if on_workers else None
        if waiter is not None:  # jobs change on worker machines: wake WatchJob at each change
            self._listening.set()
            self._listener = threading.Thread(
                target=self._relay_changes, args=(waiter,), name="zone-job-changes", daemon=True
            )
            self._listener.start()

    def shutdown(self, grace: float) -> None:
        """Stop the workers (their jobs are settled at the next start)."""
        self._stopping.set()
        self._executor.shutdown(grace)
        self._listening.clear()
        if self._listener is not None:
            self._listener.join()

    def _relay_changes(self, waiter: Waiter) -> None:
        """Notify ``WatchJob`` waiters of each job change announced by any process."""
        try:
            while self._listening.is_set():
                if waiter.wait(0.5):
                    with self._changed:
                        self._changed.notify_all()
        finally:
            waiter.close()

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
        spec = self._hints.hinted(spec)
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
            dataset=product.dataset,
            dataset_version=info.version,
        )
        created: list[Job] = []

        def create_job(tx: Tx) -> None:  # the reservation, the job, its queue entry: as one
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
                        ON_WORKERS: self._on_workers,
                    },
                    release_id=order.release_id,
                    conn=tx,
                )
            )
            if self._queue is not None:
                self._queue.queue_in(tx, created[0].job_id, WORKER, spec.to_json())

        self._desk.reserve(order, admit=create_job)
        job = created[0]
        if self._queue is not None:
            return job
        self._hints.expect(job.job_id, spec)  # this process settles the job: learn from it
        try:
            self._executor.start(job.job_id, WORKER, spec.to_json(), self._on_event)
        except Exception:  # not queued: nothing read, so refunded (then the caller's error)
            self._end(job.job_id, JobState.FAILED, "the job could not be queued")
            raise
        return job

    def _succeed(self, job_id: str, event: Mapping[str, Any]) -> None:
        try:
            super()._succeed(job_id, event)
        except BaseException:
            self._hints.learn(job_id, None)
            raise
        self._hints.learn(job_id, event)  # a no-op if the job was failed instead

    def _end(
        self, job_id: str, state: JobState, reason: str, *, running_touches: bool = False
    ) -> None:
        super()._end(job_id, state, reason, running_touches=running_touches)
        self._hints.learn(job_id, None)

    def recover(self, owner: str | None = None) -> int:
        """End every job left QUEUED or RUNNING as FAILED, settling its charge.

        After a restart (``owner`` None: every unfinished job), or for the jobs of one dead
        replica (``owner``: its id). A job that was RUNNING counts as having touched the data
        even if its worker's notice had not been recorded yet (the notice travels
        asynchronously): charged, never refunded. Jobs on ``zone worker`` processes belong to
        no replica and are left to the queue keepers of workers and replicas (which fail the
        job of a worker that died, ``zone.jobs.reaper``).
        """
        stale = [job for job in self._jobs.running(owner) if not job.spec.get(ON_WORKERS)]
        reason = "server restarted" if owner is None else REPLICA_DIED
        for job in stale:
            self._end(job.job_id, JobState.FAILED, reason, running_touches=True)
        return len(stale)

    def _unfinished_on_workers(self) -> list[Job]:
        return [job for job in self._jobs.running() if job.spec.get(ON_WORKERS)]

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
