"""Joint training jobs and the cohorts they read: submission, lifecycle, erasure (no torch).

``JointJobs`` runs joint jobs exactly as ``TrainingJobs`` runs training jobs (same job table,
executor, charging rule and settlement; GetJob, WatchJob, CancelJob and GetResult work on them
unchanged) and adds what a cohort needs: a job reads one of its owner's stored cohorts, at most
one job at a time; when the job ends (succeeded, failed or cancelled, including a job failed by a
restart) its cohort is erased unless the caller asked to keep it; EraseCohort and the retention
sweep first cancel a job still reading the cohort.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from zone.access import authorize_product, budget_account, check_epsilon_cap
from zone.audit import ReleasedArtifact, canonical_json
from zone.catalog import DatasetCatalog, JointTrainingProduct, Product
from zone.catalog.info import budget_key
from zone.errors import FailedPrecondition
from zone.jobs import TERMINAL, Executor, Job, JobState, JobStore
from zone.ledger import Amount
from zone.models.registry import ModelRegistry
from zone.policy import Grant, PolicySet, Principal
from zone.products.joint import estimate
from zone.products.joint.cohorts import Cohorts
from zone.products.joint.plan import ACCOUNTING, JointRequest, JointSpec, plan_joint
from zone.products.joint.store import CohortInfo, now_utc
from zone.products.training.service import TrainingJobs
from zone.release.desk import Order, ReleaseDesk
from zone.release.receipt import JointTrainingPart, ProductPart, Receipt, StatisticsPart
from zone.state.api import State, Tx

log = logging.getLogger(__name__)

JOINT_WORKER = "zone.products.joint.worker:run"
STALLED_ERASURE = timedelta(minutes=10)
"""An erasure marked this long ago and not ended is finished by any replica's sweep."""
# Imported by warm workers after the training preload (its warm-up covers torch and opacus):
# the joint modules and scipy.stats, which took about a second at job time otherwise.
JOINT_PRELOAD = JOINT_WORKER.partition(":")[0]


@dataclass(frozen=True)
class JointEstimate:
    """What EstimateCost answers: the plan's public numbers, and maybe a DP matched count."""

    plan: JointSpec
    dp_matched: int | None = None
    match_epsilon: float = 0.0
    match_release_id: str = ""


class JointJobs(TrainingJobs):
    """Joint training jobs over uploaded cohorts (see the module docstring)."""

    def __init__(
        self,
        products: Mapping[str, Product],
        catalog: DatasetCatalog,
        *,
        cohorts: Cohorts,
        policy_digest: Callable[[], str],
        state: State,
        desk: ReleaseDesk,
        jobs: JobStore,
        models: ModelRegistry,
        executor: Executor,
        row_count_granularity: int,
        changed: threading.Condition,
    ) -> None:
        super().__init__(
            products,
            catalog,
            row_count_granularity=row_count_granularity,
            state=state,
            desk=desk,
            jobs=jobs,
            models=models,
            executor=executor,
            changed=changed,
        )
        self.cohorts = cohorts
        self._policy_digest = policy_digest

    # --- planning, estimates, submission -------------------------------------------------------

    def _planned(
        self, policies: PolicySet, principal: Principal, request: JointRequest
    ) -> tuple[JointTrainingProduct, Grant, CohortInfo, JointSpec]:
        product, grant = authorize_product(
            policies, principal, self._products, request.product, JointTrainingProduct
        )
        cohort = self.cohorts.describe(principal, request.upload_id)
        if cohort.state != "stored":
            raise FailedPrecondition("the cohort has been erased", reason="cohort_erased")
        info = self._catalog.get(product.dataset)
        spec = plan_joint(
            request,
            product,
            info.meta,
            cohort,
            db_path=info.path,  # the version file: the job reads the version it was planned on
            cohort_path=self.cohorts.path(cohort),
            work_dir=self.cohorts.work_dir(cohort.upload_id),
        )
        return product, grant, cohort, spec

    def estimate(
        self,
        policies: PolicySet,
        principal: Principal,
        request: JointRequest,
        request_id: str,
        *,
        dp_match_count: bool = False,
    ) -> JointEstimate:
        """Public facts of a joint job; with ``dp_match_count``, a charged DP matched count.

        Guarantee of the count: ``match_count_epsilon``-DP (delta 0) for adding, removing or
        replacing one zone subject (sensitivity 1; ``estimate``). Nothing else here depends on
        the dataset.

        Raises:
            PermissionDenied, InvalidArgument, NotFound: as :meth:`submit_joint`.
            FailedPrecondition: a DP count was asked for but the product offers none.
            BudgetExhausted, QuotaExhausted: the count cannot be charged (nothing spent).
        """
        product, grant, cohort, spec = self._planned(policies, principal, request)
        if not dp_match_count:
            return JointEstimate(spec)
        epsilon = product.match_count_epsilon
        if epsilon is None:
            raise FailedPrecondition(
                f"product {product.id!r} offers no DP matched count", reason="no_match_count"
            )
        account = budget_account(
            policies,
            principal,
            grant,
            product.dataset,
            budget_key(self._catalog.get(product.dataset)),
        )
        order = Order(
            principal.id, grant, product.id, "call", request_id, account, Amount.cost(epsilon, 0.0),
            dataset=product.dataset,
            dataset_version=self._catalog.get(product.dataset).version,
        )  # fmt: skip
        ticket = self._desk.reserve(order)
        with self._desk.failing(ticket):
            noisy = estimate.dp_matched(
                estimate.matched_count(self._catalog, product, self.cohorts.path(cohort)), epsilon
            )
        content = {"upload_id": cohort.upload_id, "dp_matched": noisy, "epsilon": epsilon}
        digest = "sha256:" + hashlib.sha256(canonical_json(content).encode()).hexdigest()
        receipt = Receipt(
            release_id=ticket.release_id,
            request_id=request_id,
            principal=principal.id,
            product=product.id,
            dataset=product.dataset,
            dataset_version=self._catalog.get(product.dataset).version,
            policy_digest=policies.digest,
            output_digest=digest,
            part=StatisticsPart(mechanisms=(estimate.MECHANISM,), accountant="basic"),
            cost=order.cost,
        )
        self._desk.release(ticket, receipt, ReleasedArtifact("statistics", content))
        return JointEstimate(spec, noisy, epsilon, ticket.release_id)

    def submit_joint(
        self, policies: PolicySet, principal: Principal, request: JointRequest, request_id: str
    ) -> Job:
        """Validate, reserve the full (replace-one) epsilon, queue the job on the cohort.

        Raises:
            PermissionDenied: product not granted, or epsilon above the per-job cap.
            NotFound: no such cohort of the caller's.
            InvalidArgument: features, hyperparameters or privacy parameters refused.
            FailedPrecondition: the cohort is erased, or another job is reading it.
            BudgetExhausted, QuotaExhausted: nothing spent, no job created.
        """
        product, grant, cohort, spec = self._planned(policies, principal, request)
        check_epsilon_cap(spec.epsilon, product.max_epsilon_per_job, grant)
        account = budget_account(
            policies,
            principal,
            grant,
            product.dataset,
            budget_key(self._catalog.get(product.dataset)),
        )
        order = Order(
            principal.id,
            grant,
            product.id,
            "job",
            request_id,
            account,
            Amount.cost(spec.epsilon, spec.delta),
            dataset=product.dataset,
            dataset_version=self._catalog.get(product.dataset).version,
        )
        created: list[Job] = []

        def create_job(tx: Tx) -> None:  # reservation, job and the cohort's claim: one commit
            job = self._jobs.create(
                principal=principal.id,
                product=product.id,
                dataset=product.dataset,
                spec={
                    **spec.public(),
                    "keep_in_zone": request.keep_in_zone,
                    "keep_cohort": request.keep_cohort,
                    "policy_digest": policies.digest,
                    "request_id": request_id,
                    "dataset_version": self._catalog.get(product.dataset).version,
                },
                release_id=order.release_id,
                conn=tx,
            )
            if not self.cohorts.store.claim_for_job(
                cohort.upload_id, principal.id, job.job_id, tx=tx
            ):
                raise FailedPrecondition(
                    "another job is reading this cohort, or it is being erased",
                    reason="cohort_busy",
                )
            created.append(job)

        with self.cohorts.lock(cohort.upload_id):  # an erasure waits, or this sees it erased
            self._desk.reserve(order, admit=create_job)
        job = created[0]
        self._executor.start(job.job_id, JOINT_WORKER, spec.to_json(), self._on_event)
        return job

    def _receipt_part(self, job: Job, result: Mapping[str, Any]) -> ProductPart:
        return JointTrainingPart(
            job_id=job.job_id,
            epsilon_spent=result.get("epsilon_spent"),
            accountant=str(result.get("accountant", "")),
            model_id=str(result.get("model_id", "")),
            upload_id=str(job.spec.get("upload_id", "")),
            upload_digest=str(job.spec.get("upload_digest", "")),
            epsilon_dpsgd=result.get("epsilon_dpsgd"),
            delta_dpsgd=result.get("delta_dpsgd"),
            accounting=ACCOUNTING,
        )

    # --- cohorts ----------------------------------------------------------------------------

    def _jobs_reading(self, upload_id: str) -> list[Job]:
        job_id = self.cohorts.store.job_of(upload_id)
        if not job_id:
            return []
        job = self._jobs.get(job_id)
        return [] if job.state in TERMINAL else [job]

    def erase_cohort(self, principal: Principal, upload_id: str, request_id: str) -> CohortInfo:
        """Erase one of the caller's cohorts now, cancelling a job that still reads it.

        Raises:
            NotFound: unknown, or another principal's (the same answer).
        """
        info = self.cohorts.describe(principal, upload_id)
        return self._erase(info, "request", request_id)

    def _erase(self, info: CohortInfo, trigger: str, request_id: str) -> CohortInfo:
        # Under the upload's lock no job can claim the cohort between the check and the erasure.
        # Across replicas: the mark, committed first, refuses every later claim.
        with self.cohorts.lock(info.upload_id):
            self.cohorts.store.begin_erasure(info.upload_id)
            for job in self._jobs_reading(info.upload_id):
                if not self._executor.cancel(job.job_id):
                    # Another replica's job (its rounds stop the worker): a RUNNING one may
                    # have read data before its notice arrived, so it is charged.
                    self._end(job.job_id, JobState.CANCELLED, f"cohort erased ({trigger})",
                              running_touches=True)  # fmt: skip
            return self.cohorts.erase(
                info.upload_id,
                trigger=trigger,
                request_id=request_id,
                policy_digest=self._policy_digest(),
            )

    def erase_cohorts_of(self, owner: str, trigger: str, request_id: str) -> list[str]:
        """Erase every stored cohort of ``owner`` (cancelling jobs reading them); erasure ids."""
        erased = []
        for info in self.cohorts.store.stored():
            if info.owner == owner:
                erased.append(self._erase(info, trigger, request_id).erasure_id or "")
        return erased

    def sweep(self) -> int:
        """Erase expired cohorts and finish stalled erasures; returns how many.

        An erasure stalls when its replica dies between the ``erasing_at`` mark and the receipt.
        """
        now = now_utc()
        erased = 0
        for info in self.cohorts.store.stored():
            if info.expires_at <= now.isoformat(timespec="microseconds"):
                self._erase(info, "retention", "")
                erased += 1
        stalled = (now - STALLED_ERASURE).isoformat(timespec="microseconds")
        for info in self.cohorts.store.stalled_erasures(stalled):
            self._erase(info, "resumed", "")
            erased += 1
        return erased

    def _after_end(self, job: Job) -> None:
        upload_id = job.spec.get("upload_id")
        if not upload_id or job.spec.get("keep_cohort"):
            return
        try:
            self.cohorts.erase(
                str(upload_id),
                trigger="job_end",
                request_id="",
                policy_digest=self._policy_digest(),
            )
        except Exception:  # noqa: BLE001 - the retention sweep and the next start retry it
            log.exception("job %s: erasing cohort %s failed", job.job_id, upload_id)

    def recover_cohorts(self) -> dict[str, int]:
        """After a restart (jobs already settled): leftovers, ended jobs' cohorts, expiry."""
        counts = self.cohorts.recover(self._policy_digest())
        ended = 0
        for info in self.cohorts.store.stored():
            job_id = self.cohorts.store.job_of(info.upload_id)
            if not job_id:
                continue
            job = self._jobs.get(job_id)
            if job.state in TERMINAL and not job.spec.get("keep_cohort"):
                self.cohorts.erase(
                    info.upload_id,
                    trigger="job_end",
                    request_id="",
                    policy_digest=self._policy_digest(),
                )
                ended += 1
        return {**counts, "ended_jobs_cohorts_erased": ended, "expired": self.sweep()}

    def describe_cohort(self, principal: Principal, upload_id: str) -> CohortInfo:
        """One of the caller's cohorts."""
        return self.cohorts.describe(principal, upload_id)
