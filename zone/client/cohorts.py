"""Joint modeling from the SDK: upload a cohort, train on it joined with zone data, erase it.

``client.upload_cohort("cohort.csv", schema)`` streams the CSV in chunks (the schema first, an end
marker with the byte count and SHA-256 last: the zone refuses an upload whose end does not
match, so a cut connection never leaves half a cohort) and returns the upload record with the
zone's digest of the bytes, which this module checks against its own. ``schema`` is the plain
data of a ``cohort.yaml`` (``load_schema_file`` reads one); the zone checks it whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import yaml

import zone.client.jobs as jobs
from zone._proto import cohorts_pb2, cohorts_pb2_grpc, common_pb2
from zone.client.errors import ZoneClientError, from_rpc_error

T = TypeVar("T")
UPLOAD_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class CohortRecord:
    """An upload as the zone records it (never values)."""

    upload_id: str
    product: str
    dataset: str
    digest: str
    rows: int
    size_bytes: int
    state: str
    created_at: str
    expires_at: str
    erased_at: str
    erasure_id: str
    erase_trigger: str


@dataclass(frozen=True)
class JointEstimate:
    """Public facts of a joint job; ``dp_matched`` only when a DP count was asked for."""

    product: str
    cohort_rows: int
    train_rows: int
    steps: int
    sample_rate: float
    charged_epsilon: float
    charged_delta: float
    epsilon_dpsgd: float
    delta_dpsgd: float
    epsilon_metrics: float
    accounting: str
    guarantee: str
    dp_matched: int | None
    match_epsilon: float
    match_release_id: str


def estimate_from_proto(e: cohorts_pb2.JointEstimate) -> JointEstimate:
    """Typed view of a JointEstimate message."""
    return JointEstimate(
        e.product,
        e.cohort_rows,
        e.train_rows,
        e.steps,
        e.sample_rate,
        e.charged.epsilon,
        e.charged.delta,
        e.epsilon_dpsgd,
        e.delta_dpsgd,
        e.epsilon_metrics,
        e.accounting,
        e.guarantee,
        e.dp_matched if e.has_match_count else None,
        e.match_epsilon,
        e.match_release_id,
    )


def joint_request(
    product: str, upload_id: str, *, epsilon: float, delta: float, **options: Any
) -> cohorts_pb2.JointTrainingRequest:
    """A JointTrainingRequest.

    ``options``: zone_features, operator_features (sequences), no_operator_features,
    keep_in_zone, keep_cohort, dp_match_count, epochs, batch_size, learning_rate,
    max_grad_norm, seed.
    """
    for name in ("zone_features", "operator_features"):
        if name in options:
            options[name] = list(options[name])
    return cohorts_pb2.JointTrainingRequest(
        product=product, upload_id=upload_id, epsilon=epsilon, delta=delta, **options
    )


class DigestMismatch(ZoneClientError):
    """The zone's digest of an upload differs from this side's: the bytes were altered."""


def record_from_proto(c: cohorts_pb2.Cohort) -> CohortRecord:
    """Typed view of a Cohort message."""
    return CohortRecord(
        c.upload_id,
        c.product,
        c.dataset,
        c.digest,
        c.rows,
        c.size_bytes,
        c.state,
        c.created_at,
        c.expires_at,
        c.erased_at,
        c.erasure_id,
        c.erase_trigger,
    )


def load_schema_file(path: Path) -> dict[str, Any]:
    """The plain data of a ``cohort.yaml`` (the zone checks it; ``zone cohorts`` locates lines)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a cohort schema must be a mapping")
    return data


def _bounds(value: Any) -> common_pb2.Bounds | None:
    if value is None:
        return None
    low, high = value
    return common_pb2.Bounds(low=float(low), high=float(high))


def schema_to_proto(schema: Mapping[str, Any]) -> cohorts_pb2.CohortSchema:
    """The upload's first chunk from a schema's plain data."""
    label = dict(schema.get("label") or {})
    message = cohorts_pb2.CohortSchema(
        product=str(schema.get("product", "")),
        purpose=str(schema.get("purpose", "")),
        key=str(schema.get("key", "")),
        label=cohorts_pb2.CohortLabel(
            column=str(label.get("column", "")),
            kind=str(label.get("kind", "")),
            classes=[str(c) for c in label.get("classes") or ()],
            bounds=_bounds(label.get("bounds")),
        ),
    )
    features = schema.get("features") or {}
    if isinstance(features, list):  # the ordered form: [{name, type, ...}]
        features = {f["name"]: f for f in features}
    for name, spec in dict(features).items():
        spec = dict(spec or {})
        message.features.add(
            name=str(name),
            type=str(spec.get("type", "")),
            bounds=_bounds(spec.get("bounds")),
            domain=[str(v) for v in spec.get("domain") or ()],
        )
    return message


def _chunks(
    schema: Mapping[str, Any], source: Path | bytes, chunk_bytes: int, digest: Any
) -> Iterator[cohorts_pb2.CohortChunk]:
    yield cohorts_pb2.CohortChunk(schema=schema_to_proto(schema))
    total = 0
    if isinstance(source, bytes):
        pieces: Iterator[bytes] = (
            source[i : i + chunk_bytes] for i in range(0, len(source), chunk_bytes)
        )
    else:
        handle = source.open("rb")
        pieces = iter(lambda: handle.read(chunk_bytes), b"")
    for piece in pieces:
        digest.update(piece)
        total += len(piece)
        yield cohorts_pb2.CohortChunk(data=piece)
    if not isinstance(source, bytes):
        handle.close()
    end = cohorts_pb2.CohortEnd(total_bytes=total, sha256=digest.hexdigest())
    yield cohorts_pb2.CohortChunk(end=end)


class CohortCalls:
    """Joint-modeling calls of :class:`~zone.client.client.ZoneClient` (mixed into it)."""

    _cohorts: cohorts_pb2_grpc.CohortServiceStub
    _metadata: tuple[tuple[str, str], ...]

    def _call(self, method: Callable[..., T], request: Any) -> T:
        raise NotImplementedError  # provided by ZoneClient

    def upload_cohort(
        self,
        source: Path | str | bytes,
        schema: Mapping[str, Any],
        *,
        chunk_bytes: int = UPLOAD_CHUNK_BYTES,
        timeout: float = 600.0,
    ) -> CohortRecord:
        """Upload a cohort CSV (a path or its bytes) with its schema; return the record.

        Raises:
            InvalidArgumentError: the zone refused the schema or the CSV (every problem).
            DigestMismatch: the zone hashed other bytes than this side sent.
        """
        data = source if isinstance(source, bytes) else Path(source)
        digest = hashlib.sha256()
        try:
            reply = self._cohorts.UploadCohort(
                _chunks(schema, data, chunk_bytes, digest),
                metadata=self._metadata,
                timeout=timeout,
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        record = record_from_proto(reply)
        if record.digest != "sha256:" + digest.hexdigest():
            raise DigestMismatch("the zone's digest of the upload differs from ours")
        return record

    def estimate_joint(
        self, product: str, upload_id: str, *, epsilon: float, delta: float, **options: Any
    ) -> JointEstimate:
        """What a joint job would charge and do.

        ``dp_match_count=True`` adds a DP count of the cohort's keys found in the dataset
        (charged the product's ``match_count_epsilon``, with its own receipt).
        """
        request = joint_request(product, upload_id, epsilon=epsilon, delta=delta, **options)
        return estimate_from_proto(self._call(self._cohorts.EstimateCost, request))

    def train_joint(
        self, product: str, upload_id: str, *, epsilon: float, delta: float, **options: Any
    ) -> jobs.JobHandle:
        """Submit a joint training job on one of the caller's cohorts (epsilon reserved now).

        Watch it and fetch its result as any job (``JobHandle``); the cohort is erased when the
        job ends unless ``keep_cohort=True``.
        """
        request = joint_request(product, upload_id, epsilon=epsilon, delta=delta, **options)
        job = self._call(self._cohorts.SubmitTraining, request)
        return jobs.JobHandle(self, jobs.status_from_proto(job))  # type: ignore[arg-type]

    def describe_cohort(self, upload_id: str) -> CohortRecord:
        """One of the caller's uploads."""
        reply = self._call(self._cohorts.DescribeCohort, cohorts_pb2.CohortRef(upload_id=upload_id))
        return record_from_proto(reply)

    def list_cohorts(self, limit: int = 100) -> list[CohortRecord]:
        """The caller's uploads, newest first."""
        reply = self._call(self._cohorts.ListCohorts, cohorts_pb2.ListCohortsRequest(limit=limit))
        return [record_from_proto(c) for c in reply.cohorts]

    def erase_cohort(self, upload_id: str) -> CohortRecord:
        """Erase one of the caller's uploads now; the record names the erasure receipt."""
        reply = self._call(self._cohorts.EraseCohort, cohorts_pb2.CohortRef(upload_id=upload_id))
        return record_from_proto(reply)
