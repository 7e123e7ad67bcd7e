"""The zone's configuration: one YAML file, validated whole, loaded once into frozen data.

Relative paths are resolved against the directory holding the config file, so a config can be
moved together with its data. Nothing is read from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zone.config_file import DEFAULT_DUCKDB_MEMORY_LIMIT, _ConfigSpec, _VerificationSpec
from zone.console.config import ConsoleConfig, console_config, is_loopback
from zone.errors import Problem, ValidationFailed
from zone.state.location import PoolOptions, StateLocation, parse_state_db
from zone.yamlio import load_yaml, validate_model


@dataclass(frozen=True)
class TlsConfig:
    """Server TLS material.

    With ``client_ca_file`` set, the server requires a client certificate signed by that CA
    (mTLS) and a principal may be identified by the certificate's common name. Without it no
    client certificate is requested, and callers authenticate with bearer tokens only.
    """

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None


@dataclass(frozen=True)
class Limits:
    """Bounds that protect the server (``zone.server.admission`` says how each is enforced).

    ``max_concurrent_rpcs`` calls at most are accepted (grpcio refuses the rest with
    RESOURCE_EXHAUSTED); ``max_workers`` handler threads run them; a call that waited longer
    than ``max_queue_wait_seconds`` for a thread is refused with UNAVAILABLE and a retry hint;
    at most ``stream_slots`` streaming calls hold threads at once; a request stream (upload)
    is cancelled after ``max_stream_seconds``.
    """

    max_message_bytes: int = 4 * 1024 * 1024
    max_concurrent_rpcs: int = 64
    max_workers: int = 16
    max_queue_wait_seconds: float = 5.0
    max_open_streams: int | None = None
    max_stream_seconds: float = 600.0

    @property
    def stream_slots(self) -> int:
        """Streaming calls allowed at once: always leaves unary calls a handler thread."""
        wanted = self.max_open_streams or self.max_workers // 2
        return max(1, min(wanted, self.max_workers - 1))


@dataclass(frozen=True)
class JobLimits:
    """Training workers: how many run at once, and the wall-time and memory limit of each.

    ``warm_workers`` are kept started in advance with the training modules imported
    (``zone.jobs.pool``; each idle one holds about 470 MiB; 0 starts a worker when a job needs it).
    ``executor`` is ``local`` (the replica's own worker processes) or ``procrastinate``
    (``zone worker`` processes through a queue in the PostgreSQL state, ``zone.jobs.remote``);
    a worker whose heartbeat is older than ``stalled_seconds`` is taken for dead, and the
    queue's finished entries are deleted ``keep_finished_hours`` after they finished.
    """

    max_concurrent: int = 1
    wall_time_seconds: float = 3600.0
    memory_mb: int = 4096
    warm_workers: int = 1
    executor: str = "local"
    stalled_seconds: float = 30.0
    keep_finished_hours: float = 168.0

    @property
    def on_workers(self) -> bool:
        """Whether training jobs run on ``zone worker`` processes (procrastinate)."""
        return self.executor == "procrastinate"


@dataclass(frozen=True)
class AuditConfig:
    """Audit checkpoints: the Ed25519 private key file ``zone audit checkpoint`` signs with.

    The server itself never reads it (checkpoints are made by the admin command only).
    """

    signing_key: Path | None = None


@dataclass(frozen=True)
class VerificationConfig:
    """Verification: Match's worker processes and master secret, Score's registered keys.

    ``workers`` is the number of worker processes Match evaluations run in (spawned, never
    forked from the server; 0 evaluates in the handler thread). ``match_secret_file`` holds
    Match's 32-byte master secret (mode 0600; made on first start); by default
    ``match-secret.key`` next to the state database. The secret itself is never written in the
    config, so that copies of the config do not carry it.

    ``max_key_bytes`` caps one uploaded public context (sent in chunks, each under the message
    limit; every other call keeps the message limit). The allowlisted CKKS context is 0.46 MB
    without Galois keys, which no product needs; 8 MiB leaves room while bounding what one
    upload can hold in memory. ``max_keys_per_principal`` bounds the active keys one principal
    may store. ``precompute_bytes`` is the memory for encryptions of zero made ahead of calls
    while the zone is idle (rerandomizers, each used once; see ``zone.wire.fresh``); 0 makes
    every one inline, during the call.
    """

    max_key_bytes: int = 8 * 1024 * 1024
    max_keys_per_principal: int = 16
    precompute_bytes: int = 32 * 1024 * 1024
    workers: int = 2
    match_secret_file: Path | None = None


@dataclass(frozen=True)
class DuckDbConfig:
    """How the server opens the dataset database (always read-only, external access disabled).

    ``memory_limit`` bounds DuckDB's buffer manager (its cache of table blocks, hash tables,
    sorts and materialized results), in DuckDB's syntax (``192MB``, ``1GiB``). With the default
    192MB the server's RSS was 338 MB (peak 352 MB) after the 50M-row ``bench_statistics.py
    --mode fair`` run, whose last queries read every column the product offers (256MB: 397
    MB, peak 416 MB; no limit: 817-866 MB). A limit below the scanned columns' size costs little
    (blocks are read again from the OS page cache: 7 % slower at 10M rows with 40MB), and
    aggregations larger than the limit spill to ``<datasets_db>.tmp`` instead of failing.
    Quantiles fetch their values into Python (16 bytes per row of the population), outside
    this limit.
    ``threads`` is DuckDB's worker thread count (None: one per CPU core, DuckDB's default);
    the threads are shared by all concurrent queries.
    """

    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    threads: int | None = None


@dataclass(frozen=True)
class JointConfig:
    """Joint modeling: where uploaded cohorts live and how large one may be.

    ``cohorts_dir`` holds each stored cohort as one private file (mode 0600) and uploads in
    progress; nothing else in the zone holds cohort values. ``max_upload_bytes`` caps one
    upload's CSV bytes (reading stops there). Every ``sweep_seconds`` the server erases
    cohorts whose retention has passed.
    """

    cohorts_dir: Path
    max_upload_bytes: int = 512 * 1024 * 1024
    sweep_seconds: float = 60.0


@dataclass(frozen=True)
class ZoneConfig:
    """Everything ``zone serve`` and the admin commands need, resolved to absolute paths.

    ``state_db`` is a SQLite file, or a PostgreSQL database (a ``postgresql://`` URL) that
    several replicas share; ``state`` holds the PostgreSQL connection pool's settings.
    """

    source: Path
    listen: str
    datasets_db: Path
    state_db: StateLocation
    models_dir: Path
    policies_dir: Path
    row_count_granularity: int
    shutdown_grace_seconds: float
    limits: Limits
    jobs: JobLimits
    tls: TlsConfig | None
    audit: AuditConfig = AuditConfig()
    verification: VerificationConfig = VerificationConfig()
    console: ConsoleConfig | None = None
    duckdb: DuckDbConfig = DuckDbConfig()
    state: PoolOptions = PoolOptions()
    joint: JointConfig | None = None

    @property
    def state_folder(self) -> Path:
        """Where the zone keeps files beside its state (see :func:`state_folder`)."""
        return state_folder(self.state_db, self.datasets_db)

    @property
    def joint_config(self) -> JointConfig:
        """The joint-modeling settings (default folder ``cohorts`` in the state folder)."""
        return self.joint or JointConfig(cohorts_dir=self.state_folder / "cohorts")

    def with_listen(self, listen: str) -> ZoneConfig:
        """A copy listening on another address (``zone serve --listen``)."""
        return ZoneConfig(**{**self.__dict__, "listen": listen})


def state_folder(state_db: StateLocation, datasets_db: Path) -> Path:
    """The state database file's folder; the datasets database's for a PostgreSQL state.

    Default home of the files the zone keeps beside its state (Match's secret, cohorts).
    """
    return state_db.parent if isinstance(state_db, Path) else datasets_db.parent


def _check_listen(listen: str) -> str | None:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"listen: expected HOST:PORT, got {listen!r}"
    return None


def load_config(path: Path) -> ZoneConfig:
    """Load and validate a zone config file; raise ValidationFailed listing every problem."""
    doc = load_yaml(path)
    spec, problems = validate_model(doc, _ConfigSpec)
    if spec is None:
        raise ValidationFailed(problems, what=f"loading {path}")
    listen_problem = _check_listen(spec.listen)
    if listen_problem:
        raise ValidationFailed([Problem(str(path), doc.line_of(("listen",)), listen_problem)])
    streams = spec.limits.max_open_streams
    if streams is not None and streams >= spec.limits.max_workers:
        message = "limits.max_open_streams must be below limits.max_workers"
        raise ValidationFailed([doc.problem(("limits", "max_open_streams"), message)])
    console_problem = _check_console(spec)
    if console_problem:
        raise ValidationFailed([doc.problem(("console", "listen"), console_problem)])
    if spec.state.min_connections > spec.state.max_connections:
        message = "state.min_connections must not exceed state.max_connections"
        raise ValidationFailed([doc.problem(("state", "min_connections"), message)])
    base = path.resolve().parent
    try:
        state_db = parse_state_db(spec.state_db, base)
    except ValueError as exc:
        raise ValidationFailed([doc.problem(("state_db",), str(exc))]) from None
    if spec.jobs.executor == "procrastinate" and isinstance(state_db, Path):
        message = (
            "jobs.executor: procrastinate keeps its queue in the state database and needs "
            "a postgresql:// state_db (a SQLite state runs jobs with the local executor)"
        )
        raise ValidationFailed([doc.problem(("jobs", "executor"), message)])

    def resolve(value: str) -> Path:
        return (base / value).resolve()

    tls = None
    if spec.tls is not None:
        tls = TlsConfig(
            cert_file=resolve(spec.tls.cert),
            key_file=resolve(spec.tls.key),
            client_ca_file=resolve(spec.tls.client_ca) if spec.tls.client_ca else None,
        )
    return ZoneConfig(
        source=path.resolve(),
        listen=spec.listen,
        datasets_db=resolve(spec.datasets_db),
        state_db=state_db,
        models_dir=resolve(spec.models_dir),
        policies_dir=resolve(spec.policies_dir),
        row_count_granularity=spec.row_count_granularity,
        shutdown_grace_seconds=spec.shutdown_grace_seconds,
        limits=Limits(**spec.limits.model_dump()),
        jobs=JobLimits(**spec.jobs.model_dump()),
        tls=tls,
        audit=AuditConfig(
            signing_key=resolve(spec.audit.signing_key) if spec.audit.signing_key else None
        ),
        verification=_verification(spec.verification, resolve),
        console=console_config(spec.console) if spec.console else None,
        duckdb=DuckDbConfig(**spec.duckdb.model_dump()),
        state=PoolOptions(**spec.state.model_dump()),
        joint=_joint(spec, resolve, state_folder(state_db, resolve(spec.datasets_db))),
    )


def _check_console(spec: _ConfigSpec) -> str | None:
    if spec.console is None:
        return None
    problem = _check_listen(spec.console.listen)
    if problem:
        return f"console.{problem}"
    if spec.tls is None and not is_loopback(spec.console.listen):
        return "console.listen: a non-loopback address needs the zone's tls section (cookies)"
    return None


def _verification(spec: _VerificationSpec, resolve: Callable[[str], Path]) -> VerificationConfig:
    values = spec.model_dump()
    secret = values.pop("match_secret_file")
    return VerificationConfig(**values, match_secret_file=resolve(secret) if secret else None)


def _joint(spec: _ConfigSpec, resolve: Callable[[str], Path], folder: Path) -> JointConfig:
    joint = spec.joint
    return JointConfig(
        cohorts_dir=resolve(joint.cohorts_dir) if joint.cohorts_dir else folder / "cohorts",
        max_upload_bytes=joint.max_upload_bytes,
        sweep_seconds=joint.sweep_seconds,
    )
