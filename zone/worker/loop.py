"""The ``zone worker`` process: procrastinate's worker loop, and the reaper of lost jobs.

procrastinate runs the task ``zone.train`` (``zone.jobs.remote.TASK``) for jobs on the queue
``zone-training``, ``jobs.max_concurrent`` at a time, each in a thread that supervises a child
process (``zone.worker.runner``). The worker's heartbeat is written every third of
``jobs.stalled_seconds``, also while it drains: SIGTERM (or SIGINT) stops it taking jobs and
lets the running ones finish (their wall-time limit bounds the wait).

The queue keeper (``zone.jobs.reaper.QueueKeeper``), in every worker as in every replica,
every half of ``jobs.stalled_seconds``: it fails the jobs of workers whose heartbeat stopped
(and orphaned jobs) by the charging rule, each once, and prunes the queue's finished entries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from procrastinate import App, JobContext
from procrastinate.worker import Worker

from zone.config import ZoneConfig
from zone.jobs.reaper import QueueKeeper
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
        sync_app = queue_app(services.url, asynchronous=False)
        with sync_app.open():
            ensure_schema(sync_app)
            asyncio.run(_work(services, queue_keeper(sync_app, services)))
    finally:
        services.close(config.shutdown_grace_seconds)


async def _work(services: WorkerServices, keeper: QueueKeeper) -> None:
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
            asyncio.create_task(_keep_forever(keeper, stalled / 2)),
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
    without this, the queue keepers of other workers and replicas would reap a draining
    worker's jobs as lost.
    """
    while True:
        await asyncio.sleep(every)
        if worker.worker_id is not None:
            try:
                await app.job_manager.update_heartbeat(worker.worker_id)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.warning("could not write the worker's heartbeat")


async def _keep_forever(keeper: QueueKeeper, every: float) -> None:
    while True:
        try:
            await asyncio.to_thread(keeper.round)
        except Exception:  # noqa: BLE001 - the keeper retries at its next round
            log.exception("keeping the training queue failed")
        await asyncio.sleep(every)


def queue_keeper(app: App, services: WorkerServices) -> QueueKeeper:
    """This worker's keeper of the queue (``app``: a synchronous procrastinate app, open)."""
    jobs = services.config.jobs
    return QueueKeeper(
        app,
        queue=QUEUE,
        task=TASK,
        lost=services.outcomes.lost,
        unfinished=lambda: [j for j in services.jobs.running() if j.spec.get(ON_WORKERS)],
        stalled_seconds=jobs.stalled_seconds,
        keep_finished_hours=jobs.keep_finished_hours,
    )
