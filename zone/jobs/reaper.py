"""Keeping the training queue honest: settle the jobs of dead workers, prune finished entries.

Every ``zone worker`` and every replica running with ``jobs.executor: procrastinate`` runs a
:class:`QueueKeeper` every half of ``jobs.stalled_seconds``, so a dead worker's job is settled
even when no worker is alive. One round:

* **stalled**: for each procrastinate job ``doing`` on a worker whose heartbeat is older than
  ``stalled_seconds`` (the worker was killed, or its machine lost), the zone's job is failed
  by the charging rule (``lost``: charged if it is marked as having touched data, refunded
  otherwise; the mark is durable before any read, ``zone.worker.child``), then the
  procrastinate job is marked failed, so no worker runs it again;
* **orphans**: a zone job on workers, unfinished, older than ``stalled_seconds``, that no
  procrastinate job waits for or runs (its queue entry was cancelled by a replica that died
  before ending it, or a task ended without ending its job): failed the same way;
* **pruning**, at most every ``prune_every_s``: procrastinate's finished jobs (succeeded,
  failed, cancelled, aborted) older than ``keep_finished_hours`` are deleted with their events,
  through procrastinate's own ``delete_old_jobs`` (what its builtin ``remove_old_jobs`` task
  runs). Jobs waiting or running are never pruned; the zone's ``jobs`` table, the ledger and
  the audit chain keep every job's record.

Every step is idempotent (a settlement happens once, a job moves once, a finished queue entry
is finished once), so any number of keepers, and a keeper and the job's own worker, never
charge twice. The queue is read with procrastinate's own queries, on its synchronous
connector.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Sequence

from procrastinate import App, sql
from procrastinate.jobs import Status

from zone.jobs.records import Job

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 600.0
"""Longest a keeper waits between two prunings of the queue's finished jobs."""

FINISHED = (
    Status.SUCCEEDED.value,
    Status.FAILED.value,
    Status.CANCELLED.value,
    Status.ABORTED.value,
)
_LIVE = (Status.TODO.value, Status.DOING.value)


class QueueKeeper:
    """Reaps lost jobs and prunes finished queue entries (see the module doc).

    Args:
        app: An open procrastinate app on the state database (a synchronous connector, or
            an asynchronous one used from a thread).
        queue: The queue training jobs wait on; task: their task name.
        lost: Fails a zone job by the charging rule; False if it had ended already.
        unfinished: The zone jobs on workers that are QUEUED or RUNNING.
        stalled_seconds: A worker silent this long is dead; a job this old needs a queue entry.
        keep_finished_hours: Finished queue entries older than this are deleted.
        prune_every_s: Least time between two prunings.
    """

    def __init__(
        self,
        app: App,
        *,
        queue: str,
        task: str,
        lost: Callable[[str], bool],
        unfinished: Callable[[], Sequence[Job]],
        stalled_seconds: float,
        keep_finished_hours: float,
        prune_every_s: float = PRUNE_EVERY_SECONDS,
    ) -> None:
        self._app = app
        self._queue = queue
        self._task = task
        self._lost = lost
        self._unfinished = unfinished
        self._stalled = stalled_seconds
        self._keep_hours = keep_finished_hours
        self._prune_every = prune_every_s
        self._pruned_at: float | None = None

    def round(self) -> int:
        """Reap, and prune if it is time; how many zone jobs were ended."""
        ended = self.reap()
        now = time.monotonic()
        if self._pruned_at is None or now - self._pruned_at >= self._prune_every:
            self.prune()
            self._pruned_at = now
        return ended

    def reap(self) -> int:
        """Fail the jobs of dead workers and orphaned jobs; how many zone jobs were ended."""
        connector = self._app.connector.get_sync_connector()
        stalled = connector.execute_query_all(
            query=sql.queries["select_stalled_jobs_by_heartbeat"],
            queue=self._queue,
            task_name=self._task,
            seconds_since_heartbeat=self._stalled,
        )
        ended = 0
        for row in stalled:
            lock = str(row["lock"] or "")
            if lock and self._settle(lock):
                ended += 1
                log.warning("job %s: its worker was lost; failed by the charging rule", lock)
            try:
                connector.execute_query(
                    query=sql.queries["finish_job"],
                    job_id=row["id"],
                    status=Status.FAILED.value,
                    delete_job=False,
                )
            except Exception:  # noqa: BLE001 - another keeper finished it first
                log.info("procrastinate job %s was finished already", row["id"])
        return ended + self._reap_orphans()

    def _reap_orphans(self) -> int:
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=self._stalled)
        manager = self._app.job_manager
        ended = 0
        for job in self._unfinished():
            if _parse(job.created_at) > cutoff:
                continue
            entries = manager.list_jobs(queue=self._queue, lock=job.job_id)
            if any(entry.status in _LIVE for entry in entries):
                continue
            if self._settle(job.job_id):
                ended += 1
                log.warning("job %s: no worker holds it; failed by the charging rule", job.job_id)
        return ended

    def _settle(self, job_id: str) -> bool:
        """``lost(job_id)``, or False if it failed: logged, and the round goes on.

        An unknown job has nothing to settle; a job the state could not settle just now has
        no live queue entry any more, and the orphan step settles it at a later round.
        """
        try:
            return self._lost(job_id)
        except Exception:  # noqa: BLE001 - one bad entry must not stop the others' settling
            log.exception("job %s: could not be settled", job_id)
            return False

    def prune(self) -> None:
        """Delete the queue's finished jobs older than ``keep_finished_hours``."""
        self._app.connector.get_sync_connector().execute_query(
            query=sql.queries["delete_old_jobs"],
            nb_hours=self._keep_hours,
            queue=self._queue,
            statuses=list(FINISHED),
        )


def _parse(stamp: str) -> datetime.datetime:
    parsed = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
