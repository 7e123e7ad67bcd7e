"""The ``zone worker`` process: procrastinate's worker loop, and the reaper of lost jobs.

procrastinate runs the task ``zone.train`` (``zone.jobs.remote.TASK``) for jobs on the queue
``zone-training``, ``jobs.max_concurrent`` at a time, each in a thread that supervises a child
process (``zone.worker.runner``). The worker's heartbeat is written every third of
``jobs.stalled_seconds``, also while it drains: SIGTERM (or SIGINT) stops it taking jobs and
lets the running ones finish (their wall-time limit bounds the wait).

The reaper, in every worker, every half of ``jobs.stalled_seconds``:
* a procrastinate job whose worker's heartbeat is older than ``stalled_seconds`` (the worker
  was killed, or its machine lost): the zone's job is failed by the charging rule
  (``JobOutcomes.lost``: refunded if still QUEUED, charged if it was RUNNING), then the
  procrastinate job is marked failed, so no worker runs it again;
* a zone job on workers, unfinished, older than ``stalled_seconds``, with no procrastinate
  job waiting or running for it (a replica died between committing the job and queueing it,
  or a task ended without ending its job): failed the same way.
Both steps are idempotent (a settlement happens once, a job moves once), so two reapers, or a
reaper and the job's own worker, never charge twice.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket

from procrastinate import App, JobContext
from procrastinate.jobs import Status
from procrastinate.worker import Worker

from zone.config import ZoneConfig
from zone.jobs.remote import QUEUE, TASK, ensure_schema, queue_app
from zone.products.training.service import ON_WORKERS
from zone.worker.runner import WorkerServices, build, run_job

log = logging.getLogger(__name__)


def serve_worker(config: ZoneConfig) -> None:
    """Run a ``zone worker`` until SIGTERM or SIGINT (running jobs are let finish).

    Raises:
        FailedPrecondition: the config does not run jobs on workers (see ``runner.build``).
    """
    services = build(config)
    try:
        schema_app = queue_app(services.url, asynchronous=False)
        with schema_app.open():
            ensure_schema(schema_app)
        asyncio.run(_work(services))
    finally:
        services.close(config.shutdown_grace_seconds)


async def _work(services: WorkerServices) -> None:
    app = queue_app(services.url, asynchronous=True)

    @app.task(name=TASK, queue=QUEUE, pass_context=True)
    def train(context: JobContext, job_id: str, target: str, payload: str) -> None:
        run_job(services, context, job_id, target, payload)

    stalled = services.config.jobs.stalled_seconds
    worker = Worker(
        app=app,
        queues=[QUEUE],
        name=f"zone-worker@{socket.gethostname()}:{os.getpid()}",
        concurrency=services.config.jobs.max_concurrent,
        update_heartbeat_interval=stalled / 3,
        stalled_worker_timeout=stalled,
        shutdown_graceful_timeout=None,  # SIGTERM drains: running jobs finish
        delete_jobs="never",
    )
    async with app.open_async():
        side = [
            asyncio.create_task(_reap_forever(app, services, stalled)),
            asyncio.create_task(_heartbeat_while_draining(app, worker, stalled / 3)),
        ]
        print("zone worker: waiting for training jobs", flush=True)
        try:
            await worker.run()  # type: ignore[no-untyped-call]
        finally:
            for task in side:
                task.cancel()


async def _heartbeat_while_draining(app: App, worker: Worker, every: float) -> None:
    """Keep the worker's heartbeat while it drains after SIGTERM.

    procrastinate stops its own heartbeat when shutdown begins, then waits for running jobs;
    without this, other workers would reap a draining worker's jobs as lost.
    """
    while True:
        await asyncio.sleep(every)
        if worker.worker_id is not None:
            try:
                await app.job_manager.update_heartbeat(worker.worker_id)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.warning("could not write the worker's heartbeat")


async def _reap_forever(app: App, services: WorkerServices, stalled: float) -> None:
    while True:
        try:
            await reap(app, services, stalled)
        except Exception:  # noqa: BLE001 - the reaper retries at its next round
            log.exception("reaping lost training jobs failed")
        await asyncio.sleep(stalled / 2)


async def reap(app: App, services: WorkerServices, stalled: float) -> int:
    """Fail the jobs of dead workers and orphaned jobs (see the module doc); how many ended."""
    ended = 0
    manager = app.job_manager
    for job in await manager.get_stalled_jobs(
        queue=QUEUE, task_name=TASK, seconds_since_heartbeat=stalled
    ):
        lock = job.lock or ""
        lost = bool(lock) and await asyncio.to_thread(services.outcomes.lost, lock)
        if lost:
            ended += 1
            log.warning("job %s: its worker was lost; failed by the charging rule", lock)
        if job.id is not None:
            try:
                await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
            except Exception:  # noqa: BLE001 - another reaper finished it first
                log.info("procrastinate job %s was finished already", job.id)
    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=stalled)
    for zone_job in await asyncio.to_thread(services.jobs.running):
        if not zone_job.spec.get(ON_WORKERS) or _parse(zone_job.created_at) > cutoff:
            continue
        live = [
            j
            for j in await manager.list_jobs_async(queue=QUEUE, lock=zone_job.job_id)
            if j.status in (Status.TODO.value, Status.DOING.value)
        ]
        if live:
            continue
        if await asyncio.to_thread(services.outcomes.lost, zone_job.job_id):
            ended += 1
            log.warning("job %s: no worker holds it; failed by the charging rule", zone_job.job_id)
    return ended


def _parse(stamp: str) -> datetime.datetime:
    parsed = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
