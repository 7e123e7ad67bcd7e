"""A replica's rounds on a shared state: keep its place, fence its stale work, settle the dead's.

Each round (every ``state.orphan_sweep_seconds``, on the ``zone-orphans`` thread):

1. :meth:`State.hold_place`: is this replica's presence session alive? If it was lost, the
   others may take the replica for dead and settle its open charges and jobs; until the place
   is taken back the state refuses this replica's writes (UNAVAILABLE) and health says
   NOT_SERVING (``on_change``). A charge a sweep settled answers its call UNAVAILABLE
   (``zone.release.desk``): settlement is one conditional UPDATE by release id, so exactly one
   of the sweeper and this replica settles it.
2. Local jobs that ended elsewhere (a sweep took this replica for dead, or another replica
   cancelled them: e.g. an erasure of their cohort) are stopped here, so that no worker keeps
   reading data for a job whose charge is settled. Their late events change nothing (every
   job move and settlement is conditional).
3. The open work of replicas whose place can be taken (they died) is settled: jobs first (by
   the job charging rule), then any other open charge (failed: charged).

On SQLite nothing of this happens: one process serves the state, it never loses its place
and it settles a crash's work at start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from zone.errors import NotFound
from zone.jobs import TERMINAL, Executor, JobStore
from zone.ledger import PrivacyLedger
from zone.products.training.service import TrainingJobs
from zone.state.api import State

log = logging.getLogger(__name__)


class ReplicaRounds:
    """The work of one round (see the module docstring); returns what it settled or stopped."""

    def __init__(
        self,
        store: State,
        *,
        training: TrainingJobs,
        ledger: PrivacyLedger,
        jobs: JobStore,
        local: Executor,
    ) -> None:
        self._store = store
        self._training = training
        self._ledger = ledger
        self._jobs = jobs
        self._local = local
        self._present = True
        self.on_change: Callable[[bool], None] | None = None
        """Told ``False`` when the place is lost and ``True`` when it is taken back."""

    def __call__(self) -> int:
        """One round: place, fence, sweep."""
        present = self._store.hold_place()
        if present != self._present:
            self._present = present
            callback = self.on_change
            if callback is not None:
                callback(present)
        if not present:
            return 0
        return self.stop_ended_jobs() + self.settle_orphans()

    def stop_ended_jobs(self) -> int:
        """Stop local workers whose job has ended in the state (settled by another replica)."""
        stopped = 0
        for job_id in sorted(self._local.active()):
            try:
                ended = self._jobs.get(job_id).state in TERMINAL
            except NotFound:
                continue
            if ended and self._local.cancel(job_id):
                log.warning("job %s ended elsewhere: its local worker is stopped", job_id)
                stopped += 1
        return stopped

    def settle_orphans(self) -> int:
        """Settle the open jobs, then charges, of replicas that died (none on SQLite).

        Jobs first: their charges follow the job rule; any other open charge is failed
        (charged).
        """
        settled = 0
        with self._store.orphaned() as owners:
            for owner in owners:
                log.warning("replica %s died: settling its open work", owner)
                settled += self._training.recover(owner) + self._ledger.recover(owner)
        return settled
