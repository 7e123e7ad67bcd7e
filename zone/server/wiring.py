"""The composition root: builds the zone's services once, each with only what it uses.

Nothing in the core imports this module (``scripts/check_architecture.py`` enforces it): the
core's classes take their collaborators as arguments, and this is the one place that decides
which concrete ones they get (the state backend ``state_db`` names: a SQLite file or a
PostgreSQL database; the local process executor, or procrastinate for training on
``zone worker`` processes). The result is a frozen :class:`ZoneServices`; the gRPC servicers
reach the core only through it.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

from zone import __version__
from zone.admin.evaluation import Evaluations
from zone.admin.exits import Exits
from zone.admin.suspensions import Suspensions
from zone.audit import AuditChain, ReleaseRegistry
from zone.audit.journal import journal_folder
from zone.audit.keys import public_key_path
from zone.audit.receipts import ReceiptBook
from zone.audit.verify import ChainVerifier
from zone.catalog import DatasetCatalog, Product
from zone.catalog.visibility import Visibility
from zone.config import ZoneConfig
from zone.console.alerts import AlertEngine, consent_products
from zone.console.deps import ConsoleDeps
from zone.console.metrics import CallMetrics
from zone.jobs import Executor, JobStore, LocalProcessExecutor
from zone.jobs.remote import ProcrastinateExecutor
from zone.ledger import PrivacyLedger
from zone.metering import Metering
from zone.models.registry import ModelRegistry
from zone.models.reviews import ModelReviews
from zone.periodic import Periodic
from zone.policy.broadcast import Broadcast
from zone.products.joint.cohorts import Cohorts
from zone.products.joint.service import JOINT_PRELOAD, JointJobs
from zone.products.joint.store import CohortStore
from zone.products.statistics.service import StatisticsService
from zone.products.training.service import TRAINING_PRELOAD, TrainingJobs
from zone.products.verification.consents import ConsentDesk
from zone.products.verification.review import ModelReviewDesk
from zone.products.verification.secret import SECRET_FILE, load_master_secret
from zone.products.verification.service import VerificationService
from zone.products.verification.workers import MatchWorkers
from zone.release.desk import ReleaseDesk
from zone.server.replica import ReplicaRounds
from zone.serving import Activation, LiveCatalog, LiveProducts, ReloadResult, ServingHolder, Sources
from zone.state.api import State
from zone.state.location import PostgresUrl
from zone.state.opening import open_state

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0
"""How often a serving zone checkpoints a SQLite state log (``zone.state.checkpointer``)."""


@dataclass(frozen=True)
class ZoneServices:
    """Everything a running zone serves with; built by :func:`build`, closed by ``close``.

    ``catalog`` and ``products`` are live views of ``serving``'s snapshot (zone.serving.live).
    """

    config: ZoneConfig
    catalog: DatasetCatalog
    products: Mapping[str, Product]
    serving: ServingHolder
    visibility: Visibility
    store: State
    audit: AuditChain
    verifier: ChainVerifier
    ledger: PrivacyLedger
    metering: Metering
    releases: ReleaseRegistry
    receipts: ReceiptBook
    desk: ReleaseDesk
    statistics: StatisticsService
    training: TrainingJobs
    joint: JointJobs
    verification: VerificationService
    model_reviews: ModelReviewDesk
    models: ModelRegistry
    suspensions: Suspensions
    exits: Exits
    call_metrics: CallMetrics
    consents: ConsentDesk
    interrupted_jobs: int
    interrupted_charges: int
    cohort_recovery: Mapping[str, int]
    sweeper: Periodic
    orphan_sweeper: Periodic
    rounds: ReplicaRounds
    broadcast: Broadcast

    def reload_policies(self) -> ReloadResult:
        """Reload this replica's set (policies, products, dataset versions); replicas follow.

        Raises:
            ValidationFailed, FailedPrecondition: as ``ServingHolder.reload`` (set kept).
        """
        result = self.serving.reload()
        self.broadcast.publish(self.serving.digest)
        return result

    def activate_dataset(self, name: str, version: str, principal: str) -> Activation:
        """Serve another kept version of a dataset here; replicas follow.

        Raises:
            NotFound, FailedPrecondition: as ``ServingHolder.activate`` (nothing changes).
        """
        result = self.serving.activate(name, version, principal)
        self.broadcast.publish(self.serving.digest)
        return result

    def record_start(self, instance_id: str = "") -> None:
        """Audit the server start with what it loaded (and its per-start instance id)."""
        self.audit.append(
            "server.start",
            {
                "instance": instance_id,
                "code_version": __version__,
                "policy_digest": self.serving.current.digest,
                "datasets": {n: i.version for n, i in self.catalog.datasets().items()},
                "products": sorted(self.products),
                "interrupted_charges": self.interrupted_charges,
                "interrupted_jobs": self.interrupted_jobs,
                "cohort_recovery": dict(self.cohort_recovery),
            },
        )

    def record_stop(self) -> None:
        """Audit a graceful stop."""
        self.audit.append("server.stop", {"policy_digest": self.serving.current.digest})

    def close(self) -> None:
        """Stop the job workers and the retention sweep, release the database handles."""
        self.broadcast.stop()
        self.sweeper.stop()
        self.orphan_sweeper.stop()
        self.training.shutdown(self.config.shutdown_grace_seconds)
        self.joint.shutdown(self.config.shutdown_grace_seconds)  # its own executor on workers
        self.verification.close()
        self.serving.close()
        self.audit.close()  # drains the rpc journal
        self.store.close()


def build(config: ZoneConfig) -> ZoneServices:
    """Open the state, load the serving snapshot (datasets, products, policies), wire, recover.

    Raises:
        ValidationFailed: products or policies are invalid for the active dataset versions.
        FailedPrecondition: the dataset store is missing or damaged.
    """
    store = open_state(config.state_db, config.state, checkpoint_every=CHECKPOINT_SECONDS)
    audit = AuditChain(store)
    try:
        audit.open_journal(journal_folder(config.state_db))  # None: PostgreSQL's pipeline
        jobs = JobStore(store, audit)
        duck = config.duckdb
        sources = Sources(config.datasets_db, config.models_dir, config.policies_dir,
                          memory_limit=duck.memory_limit, threads=duck.threads)  # fmt: skip
        # versions that queued or running jobs read are never dropped from disk
        serving = ServingHolder(sources, audit.append, jobs.dataset_versions_in_use)
    except BaseException:
        audit.close()
        store.close()
        raise
    try:
        return _wire(config, serving, store, audit, jobs)
    except BaseException:
        serving.close()
        audit.close()
        store.close()
        raise


def match_workers(workers: int) -> MatchWorkers:
    """Match's worker processes: spawned (never forked from the grpc server), made on first use."""
    if workers == 0:
        return MatchWorkers(None, 0)
    context = multiprocessing.get_context("spawn")
    return MatchWorkers(lambda: ProcessPoolExecutor(workers, mp_context=context), workers)


def _wire(
    config: ZoneConfig,
    serving: ServingHolder,
    store: State,
    audit: AuditChain,
    jobs: JobStore,
) -> ZoneServices:
    catalog, products = LiveCatalog(serving), LiveProducts(serving)

    def providers_of(product_id: str) -> tuple[str, tuple[tuple[str, Decimal], ...]]:
        dataset = products[product_id].dataset
        providers = catalog.get(dataset).meta.providers or ()
        return dataset, tuple((p.id, p.share) for p in providers)

    # First: a bad secret file stops the start before any worker process exists.
    secret = load_master_secret(
        config.verification.match_secret_file or config.state_folder / SECRET_FILE
    )
    ledger = PrivacyLedger(store, audit)
    releases = ReleaseRegistry(store, audit)
    metering = Metering(store, audit, providers_of)
    desk = ReleaseDesk(store, ledger, metering, releases)
    models = ModelRegistry(store, audit)
    reviews = ModelReviews(store, audit)
    on_workers = config.jobs.on_workers
    executor = LocalProcessExecutor(  # joint jobs read cohorts this replica holds: always local
        max_concurrent=config.jobs.max_concurrent,
        wall_time_s=config.jobs.wall_time_seconds,
        memory_bytes=config.jobs.memory_mb * 1024 * 1024,
        warm_workers=0 if on_workers else config.jobs.warm_workers,
        # names only: never imported here
        preload=(JOINT_PRELOAD,) if on_workers else (*TRAINING_PRELOAD, JOINT_PRELOAD),
    )
    training_executor: Executor = executor
    if on_workers:  # zone.config allows it only with a PostgreSQL state
        assert isinstance(config.state_db, PostgresUrl)
        training_executor = ProcrastinateExecutor(config.state_db.url, config.jobs)
    changed = threading.Condition()  # job changes, for WatchJob (training and joint jobs)
    training = TrainingJobs(
        products,
        catalog,
        row_count_granularity=config.row_count_granularity,
        state=store,
        desk=desk,
        jobs=jobs,
        models=models,
        executor=training_executor,
        changed=changed,
        on_workers=on_workers,
    )
    cohort_store = CohortStore(store, audit)
    joint = JointJobs(
        products,
        catalog,
        cohorts=Cohorts(
            products,
            catalog,
            config.joint_config,
            state=store,
            store=cohort_store,
            shared=isinstance(config.state_db, PostgresUrl),
        ),  # fmt: skip
        policy_digest=lambda: serving.snapshot.policies.digest,
        state=store,
        desk=desk,
        jobs=jobs,
        models=models,
        executor=executor,
        row_count_granularity=config.row_count_granularity,
        changed=changed,
    )
    verification = VerificationService(
        products,
        catalog,
        config.verification,
        max_message_bytes=config.limits.max_message_bytes,
        state=store,
        audit=audit,
        desk=desk,
        models=models,
        reviews=reviews,
        secret=secret,
        workers=match_workers(config.verification.workers),
    )
    # Jobs first: their charges follow the job rule (refund if no data was touched); then any
    # other charge left open by a crash is settled as failed (still charged). Only a process
    # alone on the state does it: other replicas' open charges and jobs are live work.
    interrupted_jobs = interrupted_charges = 0
    cohort_recovery: Mapping[str, int] = {}
    with store.startup() as alone:
        if alone:
            interrupted_jobs = training.recover()
            cohort_recovery = joint.recover_cohorts()  # after the jobs: their cohorts go
            interrupted_charges = ledger.recover()
        else:
            log.info("other replicas serve this state: their open work is left to them")
    sweeper = Periodic(
        "zone-retention", joint.sweep, config.joint_config.sweep_seconds, "erased %d cohort(s)"
    )
    sweeper.start()
    # joint's recover ends training jobs too, and erases a swept joint job's cohort
    rounds = ReplicaRounds(store, training=joint, ledger=ledger, jobs=jobs, local=executor)
    orphan_sweeper = Periodic(
        "zone-orphans",
        rounds,
        config.state.orphan_sweep_seconds,
        "settled or stopped %d charge(s) and job(s) of dead or fenced replicas",
    )
    orphan_sweeper.start()

    broadcast = Broadcast(
        store,
        reload=serving.reload_digest,
        digest=lambda: serving.digest,
        on_mismatch=lambda record: audit.append("policy.mismatch", record),
        poll_seconds=config.state.reload_poll_seconds,
    )
    broadcast.start()
    suspensions = Suspensions(store, audit)
    exits = Exits(
        store,
        audit,
        suspensions=suspensions,
        jobs=joint,
        keys=verification.keys,
        ledger=ledger,
        policies=lambda: serving.current,
    )

    def other_receipts(receipt_id: str) -> tuple[str, int] | None:
        return cohort_store.erasure_entry(receipt_id) or exits.receipt_entry(receipt_id)

    return ZoneServices(
        config=config,
        catalog=catalog,
        products=products,
        serving=serving,
        visibility=Visibility(catalog, products, config.row_count_granularity),
        store=store,
        audit=audit,
        verifier=ChainVerifier(store, audit.flush),
        ledger=ledger,
        metering=metering,
        releases=releases,
        receipts=ReceiptBook(store, releases, other_receipts),
        desk=desk,
        statistics=StatisticsService(products, catalog, ledger, desk),
        training=training,
        joint=joint,
        verification=verification,
        model_reviews=ModelReviewDesk(products, models, reviews, jobs, releases, catalog),
        models=models,
        suspensions=suspensions,
        exits=exits,
        call_metrics=CallMetrics(),
        consents=ConsentDesk(products, store, audit),
        interrupted_jobs=interrupted_jobs,
        interrupted_charges=interrupted_charges,
        cohort_recovery=cohort_recovery,
        sweeper=sweeper,
        orphan_sweeper=orphan_sweeper,
        rounds=rounds,
        broadcast=broadcast,
    )


def console_deps(services: ZoneServices) -> ConsoleDeps:
    """The narrow services the supervision console uses (the config must have ``console:``).

    Raises:
        ValueError: the config has no ``console`` section.
    """
    config = services.config.console
    if config is None:
        raise ValueError("the zone config has no console section")
    holder, products = services.serving, services.products  # live: reloads are seen
    alerts = AlertEngine(
        services.store,
        services.audit,
        config.alerts,
        lambda: holder.current,
        consent_required=lambda: consent_products(products),
    )
    services.call_metrics.add_state(services.store, alerts.counts)
    signing_key = services.config.audit.signing_key
    return ConsoleDeps(
        config=config,
        store=services.store,
        audit=services.audit,
        verifier=services.verifier,
        policies=lambda: holder.current,
        datasets=services.catalog.datasets,
        products=services.products,
        metering=services.metering,
        receipts=services.receipts,
        models=services.models,
        suspensions=services.suspensions,
        exits=services.exits,
        evaluations=Evaluations(services.store, flush=services.audit.flush),
        alerts=alerts,
        metrics=services.call_metrics,
        checkpoint_public_key=public_key_path(signing_key) if signing_key else None,
        tls=services.config.tls is not None,
    )
