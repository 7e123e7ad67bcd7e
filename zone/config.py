"""The zone's configuration: one YAML file, validated whole, loaded once into frozen data.

Relative paths are resolved against the directory holding the config file, so a config can be
moved together with its data. Nothing is read from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from zone.errors import Problem, ValidationFailed
from zone.yamlio import load_yaml, validate_model

DEFAULT_LISTEN = "127.0.0.1:50051"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _TlsSpec(_Strict):
    cert: str
    key: str
    client_ca: str | None = None


class _LimitsSpec(_Strict):
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_concurrent_rpcs: int = Field(default=64, ge=1, le=10_000)
    max_workers: int = Field(default=16, ge=1, le=256)


class _JobsSpec(_Strict):
    max_concurrent: int = Field(default=1, ge=1, le=64)
    wall_time_seconds: float = Field(default=3600.0, gt=0)
    memory_mb: int = Field(default=4096, ge=64)


class _ConfigSpec(_Strict):
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
    """Bounds that protect the server: message size, concurrent RPCs, handler threads."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_concurrent_rpcs: int = 64
    max_workers: int = 16


@dataclass(frozen=True)
class JobLimits:
    """Training workers: how many run at once, and the wall-time and memory limit of each."""

    max_concurrent: int = 1
    wall_time_seconds: float = 3600.0
    memory_mb: int = 4096


@dataclass(frozen=True)
class ZoneConfig:
    """Everything ``zone serve`` and the admin commands need, resolved to absolute paths."""

    source: Path
    listen: str
    datasets_db: Path
    state_db: Path
    models_dir: Path
    policies_dir: Path
    row_count_granularity: int
    shutdown_grace_seconds: float
    limits: Limits
    jobs: JobLimits
    tls: TlsConfig | None

    def with_listen(self, listen: str) -> ZoneConfig:
        """A copy listening on another address (``zone serve --listen``)."""
        return ZoneConfig(**{**self.__dict__, "listen": listen})


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
    base = path.resolve().parent

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
        state_db=resolve(spec.state_db),
        models_dir=resolve(spec.models_dir),
        policies_dir=resolve(spec.policies_dir),
        row_count_granularity=spec.row_count_granularity,
        shutdown_grace_seconds=spec.shutdown_grace_seconds,
        limits=Limits(**spec.limits.model_dump()),
        jobs=JobLimits(**spec.jobs.model_dump()),
        tls=tls,
    )
