"""Training on worker machines: an ``Executor`` over procrastinate, a PostgreSQL task queue.

Why procrastinate (docs/ARCHITECTURE.md, "Training on worker machines"): its queue lives in the
PostgreSQL database the replicas already share, workers on any machine take jobs with
LISTEN/NOTIFY, and it has heartbeats, stalled-job detection and abort requests.

``ProcrastinateExecutor`` is the replicas' side: ``queue_in`` defers one procrastinate job
(task ``TASK`` on queue ``QUEUE``, ``lock`` and ``queueing_lock`` both the zone's job id, so
one job id is queued at most once and run by one worker at a time) inside the caller's open
state transaction, the one that reserves the job's budget and creates its row: the job is
queued if and only if it is reserved (``start`` queues on a transaction of its own);
``cancel`` cancels a job still waiting, or asks the worker running it to abort; ``keep``
runs a :class:`~zone.jobs.reaper.QueueKeeper` in the replica, so jobs of dead workers are
settled and the queue pruned even while no worker is alive. It never calls ``on_event``: the ``zone
worker`` that runs a job (``zone.worker``) handles the job's events itself, writing every
state change through the state database, so any replica serves ``WatchJob`` from the tables
(``zone.products.training.outcomes``).

The task's arguments are text only (the job id, the target's name, the payload), as for the
local executor: nothing pickled crosses machines.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence

from procrastinate import App, PsycopgConnector, SyncPsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Status

from zone.config import JobLimits
from zone.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from zone.jobs.events import OnEvent
from zone.jobs.reaper import QueueKeeper
from zone.jobs.records import Job
from zone.periodic import Periodic
from zone.state.api import Tx
from zone.state.postgres import PgTx

log = logging.getLogger(__name__)

QUEUE = "zone-training"
"""The procrastinate queue training jobs wait on."""

TASK = "zone.train"
"""The procrastinate task name a ``zone worker`` registers (``zone.worker.runner``)."""

_TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
_LIVE = (Status.TODO.value, Status.DOING.value)


def queue_app(url: str, *, asynchronous: bool) -> App:
    """A procrastinate app on the state database at ``url`` (not opened yet).

    Args:
        url: The ``postgresql://`` URL of the zone's state database.
        asynchronous: True for a worker (procrastinate's worker loop is asyncio); False for
            the replicas, which defer and cancel from handler threads.
    """
    connector = (
        PsycopgConnector(conninfo=url) if asynchronous else SyncPsycopgConnector(conninfo=url)
    )
    return App(connector=connector)


def ensure_schema(app: App) -> bool:
    """Create procrastinate's tables in the state database unless they exist; True if made.

    Two processes starting at once may both try: the loser's error is ignored when the
    schema is then present.
    """
    if _schema_present(app):
        return False
    try:
        app.schema_manager.apply_schema()
    except Exception:
        if _schema_present(app):
            return False
        raise
    log.info("created procrastinate's schema in the state database")
    return True


def _schema_present(app: App) -> bool:
    row = app.connector.get_sync_connector().execute_query_one(
        "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
    )
    return bool(row["present"])


class ProcrastinateExecutor:
    """Queues jobs for ``zone worker`` processes through procrastinate (see the module doc).

    Args:
        url: The ``postgresql://`` URL of the zone's state database.
        limits: The ``jobs:`` settings (``stalled_seconds``: a worker whose heartbeat is
            older is dead; ``keep_finished_hours``: finished queue entries older are pruned;
            both for ``keep``).

    Raises:
        procrastinate.exceptions.ConnectorException: the database cannot be reached.
    """

    def __init__(self, url: str, limits: JobLimits | None = None) -> None:
        self._app = queue_app(url, asynchronous=False)
        self._app.open()
        ensure_schema(self._app)
        self._lock = threading.Lock()
        self._closed = False
        self._limits = limits or JobLimits(executor="procrastinate")
        self._keeper: Periodic | None = None

    def start(self, job_id: str, target: str, payload: str, on_event: OnEvent) -> None:
        """Queue the job for a worker in a transaction of its own (see ``queue_in``).

        Raises:
            InvalidArgument: ``target`` is not ``"module:function"``.
            AlreadyExists: A job with this id is queued or running already.
            FailedPrecondition: The executor is shut down.
        """
        self._defer(None, job_id, target, payload)

    def queue_in(self, tx: Tx, job_id: str, target: str, payload: str) -> None:
        """Queue the job inside ``tx``: it commits, or rolls back, with the caller's writes.

        Its events are handled by the worker that runs it, not here.

        Args:
            tx: An open write transaction of the PostgreSQL state (the one that reserves the
                job's budget and creates its row).
            job_id: The zone's job id.
            target: ``"module:function"`` for the worker's executor.
            payload: The job's input (text).

        Raises:
            InvalidArgument: ``target`` is not ``"module:function"``.
            AlreadyExists: A job with this id is queued or running already.
            FailedPrecondition: The executor is shut down, or ``tx`` is not PostgreSQL's.
        """
        if not isinstance(tx, PgTx):
            raise FailedPrecondition("jobs on workers need a PostgreSQL state")
        self._defer(tx.driver_connection, job_id, target, payload)

    def _defer(self, connection: object, job_id: str, target: str, payload: str) -> None:
        if not _TARGET.match(target):
            raise InvalidArgument("a job target must look like 'package.module:function'")
        with self._lock:
            if self._closed:
                raise FailedPrecondition("the executor is shut down")
        deferrer = self._app.configure_task(
            TASK, queue=QUEUE, lock=job_id, queueing_lock=job_id, connection=connection
        )
        try:
            deferrer.defer(job_id=job_id, target=target, payload=payload)
        except AlreadyEnqueued:
            raise AlreadyExists("the job is queued already") from None

    def keep(self, *, lost: Callable[[str], bool], unfinished: Callable[[], Sequence[Job]]) -> None:
        """Run a queue keeper in this process every half of ``stalled_seconds`` until shutdown.

        Args:
            lost: Fails a zone job by the charging rule (``JobOutcomes.lost``).
            unfinished: The zone jobs on workers still QUEUED or RUNNING.
        """
        keeper = QueueKeeper(
            self._app,
            queue=QUEUE,
            task=TASK,
            lost=lost,
            unfinished=unfinished,
            stalled_seconds=self._limits.stalled_seconds,
            keep_finished_hours=self._limits.keep_finished_hours,
        )
        with self._lock:
            if self._closed or self._keeper is not None:
                return
            self._keeper = Periodic(
                "zone-queue-keeper",
                keeper.round,
                self._limits.stalled_seconds / 2,
                "settled %d training job(s) of lost workers",
            )
            self._keeper.start()

    def cancel(self, job_id: str) -> bool:
        """Cancel a waiting job, or ask the worker running it to abort.

        Returns:
            True if a worker runs the job and was asked to abort (it ends the job as
            cancelled, by the charging rule). False if no worker will run it: the job was
            still waiting (now cancelled in the queue: the caller ends it, refunded) or is
            unknown or finished.
        """
        manager = self._app.job_manager
        for job in manager.list_jobs(queue=QUEUE, lock=job_id):
            if job.id is None or job.status not in _LIVE:
                continue
            if manager.cancel_job_by_id(job.id, abort=True):
                return manager.get_job_status(job.id) is Status.DOING
        return False

    def active(self) -> set[str]:
        """The zone job ids queued or running on workers (any replica's)."""
        manager = self._app.job_manager
        return {
            str(job.lock)
            for status in _LIVE
            for job in manager.list_jobs(queue=QUEUE, status=status)
            if job.lock
        }

    def shutdown(self, grace: float) -> None:
        """Refuse new jobs and close the queue's connections; jobs keep running on workers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            keeper = self._keeper
        if keeper is not None:
            keeper.stop()
        self._app.close()
