"""Joint training jobs and the cohorts they read: submission, lifecycle, erasure (no torch).

``JointJobs`` runs joint jobs exactly as ``TrainingJobs`` runs training jobs (same job table,
executor, charging rule and settlement; GetJob, WatchJob, CancelJob and GetResult work on them
unchanged) and adds what a cohort needs: a job reads one of its owner's stored cohorts, at most
one job at a time; when the job ends (succeeded, failed or cancelled, including a job failed by a
restart) its cohort is erased unless the caller asked to keep it; EraseCohort and the retention
sweep first cancel a job still reading the cohort.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from zone.catalog import DatasetCatalog, Product
from zone.jobs import TERMINAL, Executor, Job, JobState, JobStore
from zone.models.registry import ModelRegistry
from zone.policy import Principal
from zone.products.joint.cohorts import Cohorts
from zone.products.joint.store import CohortInfo, now_utc
from zone.products.training.service import TrainingJobs
from zone.release.desk import ReleaseDesk
from zone.state.api import State

log = logging.getLogger(__name__)

JOINT_WORKER = "zone.products.joint.worker:run"


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
        datasets_db: Path,
        row_count_granularity: int,
        changed: threading.Condition,
    ) -> None:
        super().__init__(
            products,
            catalog,
            datasets_db=datasets_db,
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
        for job in self._jobs_reading(info.upload_id):
            if not self._executor.cancel(job.job_id):
                self._end(job.job_id, JobState.CANCELLED, f"cohort erased ({trigger})")
        return self.cohorts.erase(info.upload_id, trigger=trigger, request_id=request_id,
                                  policy_digest=self._policy_digest())  # fmt: skip

    def sweep(self) -> int:
        """Erase every cohort whose retention has passed; returns how many."""
        now = now_utc().isoformat(timespec="microseconds")
        erased = 0
        for info in self.cohorts.store.stored():
            if info.expires_at <= now:
                self._erase(info, "retention", "")
                erased += 1
        return erased

    def _after_end(self, job: Job) -> None:
        upload_id = job.spec.get("upload_id")
        if not upload_id or job.spec.get("keep_cohort"):
            return
        try:
            self.cohorts.erase(str(upload_id), trigger="job_end", request_id="",
                               policy_digest=self._policy_digest())  # fmt: skip
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
                self.cohorts.erase(info.upload_id, trigger="job_end", request_id="",
                                   policy_digest=self._policy_digest())  # fmt: skip
                ended += 1
        return {**counts, "ended_jobs_cohorts_erased": ended, "expired": self.sweep()}

    def describe_cohort(self, principal: Principal, upload_id: str) -> CohortInfo:
        """One of the caller's cohorts."""
        return self.cohorts.describe(principal, upload_id)
