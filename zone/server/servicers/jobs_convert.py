"""Training-job proto <-> domain conversion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from zone._proto import common_pb2, jobs_pb2
from zone.jobs import Job
from zone.ledger import Amount
from zone.products.training.request import TrainingRequest
from zone.products.training.spec import GUARANTEE


def _optional(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def request_from_proto(r: jobs_pb2.TrainingRequest) -> TrainingRequest:
    """The domain request; the planner validates it against the product."""
    return TrainingRequest(
        product=r.product,
        epsilon=r.epsilon,
        delta=r.delta,
        epochs=_optional(r, "epochs"),
        batch_size=_optional(r, "batch_size"),
        learning_rate=_optional(r, "learning_rate"),
        max_grad_norm=_optional(r, "max_grad_norm"),
        hidden_width=_optional(r, "hidden_width"),
        features=tuple(r.features),
        keep_in_zone=r.keep_in_zone,
        seed=_optional(r, "seed"),
    )


def job_to_proto(job: Job) -> jobs_pb2.Job:
    """A job's public view (its owner's or an admin's)."""
    spec = job.spec
    return jobs_pb2.Job(
        job_id=job.job_id,
        product=job.product,
        principal=job.principal,
        state=job.state.name,
        epoch=job.epoch,
        epochs=int(spec.get("epochs", 0)),
        epsilon_spent=job.epsilon_spent,
        reserved=common_pb2.PrivacyBudget(
            epsilon=float(spec.get("epsilon", 0.0)), delta=float(spec.get("delta", 0.0))
        ),
        reason=job.reason,
        created_at=job.created_at or "",
        started_at=job.started_at or "",
        finished_at=job.finished_at or "",
    )


def _layers(weights: Any, biases: Any) -> list[jobs_pb2.Layer]:
    """MLP layers: ``weights`` one matrix per layer, ``biases`` one vector per layer."""
    out = []
    for matrix, bias in zip(weights or (), biases or (), strict=False):
        rows = [_flat(row) for row in matrix]
        out.append(
            jobs_pb2.Layer(
                rows=len(rows),
                cols=len(rows[0]) if rows else 0,
                weights=[w for row in rows for w in row],
                bias=_flat(bias),
            )
        )
    return out


def _flat(values: Any) -> list[float]:
    if isinstance(values, list | tuple):
        return [x for v in values for x in _flat(v)]
    return [float(values)]


def result_to_proto(job: Job, result: Mapping[str, Any]) -> jobs_pb2.TrainingResult:
    """The released result: the model (or only its id) and the DP metrics."""
    scaling = struct_pb2.Struct()
    if isinstance(result.get("scaling"), Mapping):
        scaling.update(dict(result["scaling"]))
    family = str(result.get("family", ""))
    layered = family == "mlp" and "weights" in result
    return jobs_pb2.TrainingResult(
        job_id=job.job_id,
        release_id=str(result.get("release_id", "")),
        family=family,
        features=[str(f) for f in result.get("features", ())],
        weights=[] if layered else _flat(result.get("weights", [])),
        intercept=float(_flat(result.get("intercept", 0.0))[0]) if not layered else 0.0,
        layers=_layers(result.get("weights"), result.get("intercept")) if layered else [],
        scaling=scaling,
        metrics={str(k): float(v) for k, v in dict(result.get("metrics", {})).items()},
        metrics_mechanism=str(result.get("metrics_mechanism", "")),
        charged=common_pb2.PrivacyBudget(
            epsilon=Amount.cost(float(job.spec["epsilon"])).epsilon,
            delta=float(job.spec.get("delta", 0.0)),
        ),
        epsilon_training=float(result.get("epsilon_training", 0.0)),
        epsilon_metrics=float(result.get("epsilon_metrics", 0.0)),
        accountant=str(result.get("accountant", "")),
        device=str(result.get("device", "")),
        model_id=str(result.get("model_id", "")),
        output_digest=str(result.get("output_digest", "")),
        guarantee=str(result.get("guarantee") or GUARANTEE),
    )
