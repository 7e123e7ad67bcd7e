"""What a ``zone worker`` holds, and how it runs one training job taken from the queue.

:func:`build` opens what a worker needs and nothing more: the state database (PostgreSQL),
the approved products and the datasets' public metadata (for the receipt's revenue shares),
the release desk, and a :class:`~zone.jobs.LocalProcessExecutor` whose warm children have
torch imported. :func:`run_job` is the body of the procrastinate task (``zone.jobs.remote``):

1. the zone's job must still be QUEUED (cancelled, reaped or run already: nothing to do);
2. the dataset file the worker was configured with must hold the job's dataset at the
   version the job was planned on (the content digest recorded at import); otherwise the job
   fails before any row is read, and is refunded;
3. the job runs in a child process, as on a replica's local executor, except that the child
   writes the touched-data mark in the state database itself and reads no data before it
   has committed (``zone.worker.child``); its other events are handled here
   (``JobOutcomes``), so progress, the result, the receipt and the settlement are written
   through the state database;
4. an abort request (the caller cancelled) or the job ending elsewhere (a reaper took this
   worker for dead) stops the child; the job then ends by the charging rule.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from procrastinate import JobContext
from procrastinate.job_context import AbortReason

from zone.audit import AuditChain, ReleaseRegistry
from zone.catalog import DatasetCatalog, Product, load_products
from zone.catalog._manifest import read_manifest
from zone.config import ZoneConfig
from zone.errors import FailedPrecondition, NotFound
from zone.jobs import TERMINAL, JobState, JobStore, LocalProcessExecutor
from zone.jobs.events import TERMINAL_EVENTS, Event, error_event
from zone.ledger import PrivacyLedger
from zone.metering import Metering, ProvidersOf
from zone.models.registry import ModelRegistry
from zone.products.training.outcomes import JobOutcomes
from zone.products.training.service import TRAINING_PRELOAD
from zone.release.desk import ReleaseDesk
from zone.state.api import State
from zone.state.location import PostgresUrl
from zone.state.opening import open_state
from zone.worker import child

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""How often a running job looks for an abort request or its end elsewhere."""

VERSION_MISMATCH = "the dataset version on the worker differs from the job's"


@dataclass(frozen=True)
class WorkerServices:
    """What one ``zone worker`` process runs jobs with (built by :func:`build`)."""

    config: ZoneConfig
    url: str
    store: State
    jobs: JobStore
    outcomes: JobOutcomes
    executor: LocalProcessExecutor

    def close(self, grace: float) -> None:
        """Stop the job children (``grace`` seconds for running ones), close the state."""
        self.executor.shutdown(grace)
        self.store.close()


def build(config: ZoneConfig) -> WorkerServices:
    """Open the state, load products and public metadata, start the warm children.

    Raises:
        FailedPrecondition: the config does not run jobs on workers, or its state is not
            PostgreSQL (``zone.config`` refuses that too), or the dataset file is missing.
        ValidationFailed: the products are invalid.
    """
    location = config.state_db
    if not config.jobs.on_workers or not isinstance(location, PostgresUrl):
        raise FailedPrecondition(
            "zone worker needs jobs.executor: procrastinate and a postgresql:// state_db"
        )
    catalog = DatasetCatalog.open(config.datasets_db, threads=1)
    try:
        metas = {name: info.meta for name, info in catalog.datasets().items()}
        products = load_products(config.models_dir, metas)
        shares = {
            name: tuple((p.id, p.share) for p in (info.meta.providers or ()))
            for name, info in catalog.datasets().items()
        }
    finally:
        catalog.close()
    store = open_state(location, config.state)
    audit = AuditChain(store)
    desk = ReleaseDesk(
        store,
        PrivacyLedger(store, audit),
        Metering(store, audit, _providers(products, shares)),
        ReleaseRegistry(store, audit),
    )
    jobs = JobStore(store, audit)
    outcomes = JobOutcomes(state=store, desk=desk, jobs=jobs, models=ModelRegistry(store, audit))
    executor = LocalProcessExecutor(
        max_concurrent=config.jobs.max_concurrent,
        wall_time_s=config.jobs.wall_time_seconds,
        memory_bytes=config.jobs.memory_mb * 1024 * 1024,
        warm_workers=config.jobs.warm_workers,
        # names only: this process never imports torch; the child module opens the state
        preload=(*TRAINING_PRELOAD, child.__name__),
    )
    return WorkerServices(config, location.url, store, jobs, outcomes, executor)


def _providers(
    products: Mapping[str, Product], shares: Mapping[str, Sequence[tuple[str, Decimal]]]
) -> ProvidersOf:
    def providers_of(product_id: str) -> tuple[str, Sequence[tuple[str, Decimal]]]:
        dataset = products[product_id].dataset
        return dataset, shares.get(dataset, ())

    return providers_of


def version_file(datasets_db: Path, dataset: str, version: str) -> Path | None:
    """This machine's file of ``version`` of ``dataset`` in its dataset store; None if absent.

    Any kept version will do (a job reads the version it was planned on, even after the zone
    switched to another); a dropped or missing one is absent. Reads the manifest only (public
    metadata), never a row of the dataset.
    """
    try:
        entry = read_manifest(datasets_db).datasets.get(dataset)
    except FailedPrecondition:
        return None
    found = entry.find(version) if entry is not None and version else None
    if found is None or found.dropped:
        return None
    path = datasets_db / found.file
    return path if path.is_file() else None


def run_job(
    services: WorkerServices, context: JobContext, job_id: str, target: str, payload: str
) -> None:
    """Run one zone job taken from the queue (the procrastinate task's body; see module doc).

    Never raises for the job's own failures: they end the zone's job (by the charging rule)
    and the procrastinate job ends ``succeeded`` (it ran its course).
    """
    try:
        job = services.jobs.get(job_id)
    except NotFound:
        log.warning("queued job %s is not in the state database", job_id)
        return
    if job.state is not JobState.QUEUED:
        log.info("job %s is %s already: not run", job_id, job.state.value)
        return
    version = str(job.spec.get("dataset_version", ""))
    path = version_file(services.config.datasets_db, job.dataset, version)
    if path is None:
        services.outcomes.on_event(job_id, error_event(VERSION_MISMATCH))
        return
    spec = json.loads(payload)
    spec["db_path"] = str(path)  # this machine's read-only copy of the job's version
    done = threading.Event()

    def on_event(jid: str, event: Event) -> None:
        services.outcomes.on_event(jid, event)
        if event.get("event") in TERMINAL_EVENTS:
            done.set()

    log.info("job %s: running on this worker", job_id)
    wrapped = child.wrap(
        target=target, payload=json.dumps(spec), job_id=job_id, state_url=services.url
    )
    services.executor.start(job_id, child.TARGET, wrapped, on_event)
    while not done.wait(POLL_SECONDS):
        if _should_stop(services, context, job_id):
            services.executor.cancel(job_id)


def _should_stop(services: WorkerServices, context: JobContext, job_id: str) -> bool:
    """Whether the caller cancelled the job, or it ended elsewhere (this worker was reaped).

    A worker shutting down (SIGTERM) lets its running jobs finish: procrastinate's shutdown
    abort is not a cancellation.
    """
    if context.should_abort() and context.abort_reason() is AbortReason.USER_REQUEST:
        return True
    try:
        return services.jobs.get(job_id).state in TERMINAL
    except Exception:  # noqa: BLE001 - the state is briefly unreachable: keep running
        log.warning("job %s: could not read its state", job_id)
        return False
