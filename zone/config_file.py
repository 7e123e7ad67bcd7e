"""The zone config file's schema: what ``zone serve --config`` accepts, validated whole.

``zone.config`` loads a file against these models into frozen data; ``zone schema config`` and
docs/REFERENCE.md are generated from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zone.console.config import ConsoleSpec

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_DUCKDB_MEMORY_LIMIT = "192MB"
# DuckDB's own size syntax, restricted to whole MB/GB (decimal) or MiB/GiB (binary) units.
_MEMORY_SIZE = r"^[1-9][0-9]{0,6}(MB|GB|MiB|GiB)$"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _TlsSpec(_Strict):
    """Server TLS; without it the zone listens only on loopback (``zone serve --help``).

    Attributes:
        cert: PEM certificate chain of the server (a file path).
        key: PEM private key of the server (a file path; keep the file 0600).
        client_ca: PEM CA that signs client certificates: when set, every client must present
            one (mTLS) and a principal may be identified by its common name (``cert_identity``).
    """

    cert: str
    key: str
    client_ca: str | None = None


class _LimitsSpec(_Strict):
    """Bounds that protect the server from load and hostile callers (docs/SECURITY.md).

    Attributes:
        max_message_bytes: Largest request or reply message (key uploads are chunked).
        max_concurrent_rpcs: Calls accepted at once; grpcio refuses more with
            RESOURCE_EXHAUSTED.
        max_workers: Handler threads.
        max_queue_wait_seconds: A call that waited longer for a thread is refused UNAVAILABLE
            with a retry hint, before any work.
        max_open_streams: Streaming calls holding threads at once (default: max_workers // 2);
            must be below max_workers, so unary calls always keep a thread.
        max_stream_seconds: A request stream (key upload) is cancelled after this long.
    """

    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_concurrent_rpcs: int = Field(default=64, ge=1, le=10_000)
    max_workers: int = Field(default=16, ge=2, le=256)
    max_queue_wait_seconds: float = Field(default=5.0, gt=0, le=600)
    max_open_streams: int | None = Field(default=None, ge=1, le=255)
    max_stream_seconds: float = Field(default=600.0, gt=0, le=86_400)


class _JobsSpec(_Strict):
    """Training jobs: each runs in its own worker process.

    Attributes:
        max_concurrent: Jobs running at once; the others wait QUEUED.
        wall_time_seconds: A job running longer is killed and FAILED (its budget stays spent).
        memory_mb: Resident memory of a worker (polled); a job above it is killed and FAILED.
        warm_workers: Workers started in advance with torch imported (~470 MiB each; 0 starts
            one when a job needs it, which takes seconds).
        executor: Where training jobs run: ``local`` (worker processes of the replica that
            accepted the job) or ``procrastinate`` (``zone worker`` processes on any machine,
            through a queue in the PostgreSQL state database; needs a ``postgresql://``
            state_db). The other settings then apply to each ``zone worker``.
        stalled_seconds: With ``procrastinate``: a worker whose heartbeat is older than this
            is taken for dead, and its job is failed by the charging rule (by any worker or
            replica, every half of this).
        keep_finished_hours: With ``procrastinate``: finished entries of the queue (its
            ``procrastinate_jobs`` rows and their events) are deleted this long after they
            finished; the zone's own job records, ledger and audit chain keep them.
    """

    max_concurrent: int = Field(default=1, ge=1, le=64)
    wall_time_seconds: float = Field(default=3600.0, gt=0)
    memory_mb: int = Field(default=4096, ge=64)
    warm_workers: int = Field(default=1, ge=0, le=16)
    executor: Literal["local", "procrastinate"] = "local"
    stalled_seconds: float = Field(default=30.0, ge=2, le=3600)
    keep_finished_hours: float = Field(default=168.0, ge=0, le=87_600)


class _AuditSpec(_Strict):
    """Audit checkpoints.

    Attributes:
        signing_key: Ed25519 private key file ``zone audit checkpoint`` signs with (made by
            ``zone audit keygen``); the server never reads it.
    """

    signing_key: str | None = None


class _VerificationSpec(_Strict):
    """Homomorphic verification: registered caller keys.

    Attributes:
        max_key_bytes: Largest public context one caller uploads (the allowlisted ones are
            0.46 MB for the CKKS Score set).
        max_keys_per_principal: Active keys one principal may hold.
        precompute_bytes: Memory for encryptions of zero made ahead while the zone is idle
            (each used once); 0 makes every one during the call.
        workers: Worker processes that evaluate Match (spawned, one per core is sensible);
            0 evaluates in the calling thread.
        zero_workers: Worker processes (spawned, lowest CPU priority) that make Score's
            encryptions of zero alongside the calls, within ``precompute_bytes``; 0 makes them
            in the server process while it is idle.
        match_secret_file: The file holding Match's 32-byte master secret (created 0600 on
            first start; the zone refuses a file others can read); default
            ``match-secret.key`` beside the state database (with a PostgreSQL state: beside
            ``datasets_db``). Each replica may hold its own: every call's keys are derived
            from it and a nonce, so no answer depends on which replica made them.
    """

    max_key_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    max_keys_per_principal: int = Field(default=16, ge=1, le=10_000)
    precompute_bytes: int = Field(default=32 * 1024 * 1024, ge=0, le=4 * 1024**3)
    workers: int = Field(default=2, ge=0, le=64)
    zero_workers: int = Field(default=1, ge=0, le=16)
    match_secret_file: str | None = None


class _DuckDbSpec(_Strict):
    """How the server's DuckDB may use the machine.

    Attributes:
        memory_limit: DuckDB's memory limit (e.g. ``256MB``, ``2GB``); bounds the server's
            memory on large datasets (DuckDB spills or refuses beyond it).
        threads: DuckDB worker threads; default one per core.
    """

    memory_limit: str = Field(default=DEFAULT_DUCKDB_MEMORY_LIMIT, pattern=_MEMORY_SIZE)
    threads: int | None = Field(default=None, ge=1, le=256)


class _StateSpec(_Strict):
    """The PostgreSQL state backend's connection pool (ignored for an SQLite file).

    Attributes:
        min_connections: Connections kept open.
        max_connections: Most connections open at once.
        timeout_seconds: How long a call waits for a connection before UNAVAILABLE.
        lock_timeout_seconds: How long a statement waits for a row or advisory lock.
        idle_in_transaction_seconds: A transaction idle this long is ended by the server.
        orphan_sweep_seconds: How often a replica checks its own presence session (fenced
            while it is lost), stops local workers of jobs ended elsewhere, and looks for open
            charges and jobs of replicas that died, settling them by the charging rule.
        reload_poll_seconds: Longest time before a replica follows a policy reload made on
            another replica (announced at once by NOTIFY; this is the fallback poll).
    """

    min_connections: int = Field(default=2, ge=0, le=1000)
    max_connections: int = Field(default=40, ge=2, le=1000)
    timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    lock_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    idle_in_transaction_seconds: float = Field(default=60.0, gt=0, le=86_400)
    orphan_sweep_seconds: float = Field(default=10.0, gt=0, le=86_400)
    reload_poll_seconds: float = Field(default=5.0, gt=0, le=3_600)


class _JointSpec(_Strict):
    """Joint modeling: where uploaded cohorts live and how large one may be.

    Attributes:
        cohorts_dir: Folder of stored cohorts, one private file each (default: ``cohorts``
            beside the state database; with a PostgreSQL state, beside ``datasets_db``). With
            a PostgreSQL state, the one folder every replica
            mounts (bound to the state by its marker file; another folder is refused).
        max_upload_bytes: Largest cohort CSV one upload may send (reading stops there).
        sweep_seconds: How often cohorts whose retention has passed are erased.
    """

    cohorts_dir: str | None = None
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1024, le=64 * 1024**3)
    sweep_seconds: float = Field(default=60.0, gt=0, le=86_400)


class _ConfigSpec(_Strict):
    """A zone config file (``zone serve --config``); relative paths are resolved against its folder.

    Attributes:
        listen: HOST:PORT the server binds (``zone serve --listen`` overrides it; port 0 takes
            a free port). Without ``tls`` only a loopback address is accepted.
        datasets_db: The dataset store: a directory with one DuckDB file per dataset version
            and a manifest naming the active one, written by ``zone datasets import`` (also
            while the zone serves) and read-only for the server. Holds every row, each
            version's metadata and quality report. A single DuckDB file from before versions
            is refused: import the datasets again into a new directory (docs/DEPLOY.md).
        state_db: The state database: an SQLite file, or ``postgresql://...`` shared by
            replicas (budgets, charges, jobs, keys, consents, the audit chain).
        models_dir: Folder of approved products, one ``*.yaml`` file each.
        policies_dir: Folder of policy files (``*.yaml``), reloaded whole, with
            ``models_dir`` and the active dataset versions, by ``zone policy reload`` or SIGHUP.
        row_count_granularity: Catalogs show row counts rounded to this (public metadata,
            not differentially private).
        shutdown_grace_seconds: On SIGTERM, in-flight calls get this long to finish.
        limits: Server protection (threads, queue wait, message size, streams).
        jobs: Training workers.
        tls: Server TLS (and mTLS with ``client_ca``); omitted: plaintext, loopback only.
        audit: Audit checkpoint signing.
        verification: Verification: caller keys, Match workers and secret.
        console: The supervision console (web); omitted: no console.
        duckdb: DuckDB memory and threads.
        state: The PostgreSQL connection pool, when ``state_db`` is a ``postgresql://`` URL.
        joint: Joint modeling: the cohort folder, the upload cap, the retention sweep.
    """

    listen: str = DEFAULT_LISTEN
    datasets_db: str
    state_db: str
    models_dir: str
    policies_dir: str
    row_count_granularity: int = Field(default=1000, ge=1)
    shutdown_grace_seconds: float = Field(default=5.0, ge=0, le=600)
    limits: _LimitsSpec = _LimitsSpec()
    jobs: _JobsSpec = _JobsSpec()
    tls: _TlsSpec | None = None
    audit: _AuditSpec = _AuditSpec()
    verification: _VerificationSpec = _VerificationSpec()
    console: ConsoleSpec | None = None
    duckdb: _DuckDbSpec = _DuckDbSpec()
    state: _StateSpec = _StateSpec()
    joint: _JointSpec = _JointSpec()


CONFIG_FILE_MODEL = _ConfigSpec
"""The schema of a zone config file (``zone schema config``, docs/REFERENCE.md)."""
