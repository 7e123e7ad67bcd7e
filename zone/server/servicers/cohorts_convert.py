"""Cohort proto <-> domain conversion (upload chunks, schemas, upload records)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from zone._proto import cohorts_pb2, common_pb2
from zone.products.joint.plan import ACCOUNTING, GUARANTEE, JointRequest
from zone.products.joint.schema import CohortSchema
from zone.products.joint.service import JointEstimate
from zone.products.joint.store import CohortInfo


def _bounds(message: Any, field: str) -> list[float] | None:
    if not message.HasField(field):
        return None
    value = getattr(message, field)
    return [value.low, value.high]


def schema_data(s: cohorts_pb2.CohortSchema) -> dict[str, Any]:
    """The schema as plain data (``zone.products.joint.schema.parse_schema`` checks it)."""
    label: dict[str, Any] = {"column": s.label.column, "kind": s.label.kind}
    if s.label.classes:
        label["classes"] = list(s.label.classes)
    if (bounds := _bounds(s.label, "bounds")) is not None:
        label["bounds"] = bounds
    features: dict[str, Any] = {}
    for f in s.features:
        spec: dict[str, Any] = {"type": f.type}
        if (bounds := _bounds(f, "bounds")) is not None:
            spec["bounds"] = bounds
        if f.domain:
            spec["domain"] = list(f.domain)
        features[f.name] = spec
    return {
        "product": s.product,
        "purpose": s.purpose,
        "key": s.key,
        "label": label,
        "features": features,
    }


def upload_chunks(chunks: Iterable[cohorts_pb2.CohortChunk]) -> Iterator[tuple[str, Any]]:
    """The upload's parts, read lazily: ("schema", data), ("data", bytes), ("end", (n, sha))."""
    for chunk in chunks:
        part = chunk.WhichOneof("part")
        if part == "schema":
            yield "schema", schema_data(chunk.schema)
        elif part == "data":
            yield "data", chunk.data
        elif part == "end":
            yield "end", (int(chunk.end.total_bytes), chunk.end.sha256)
        else:
            yield "", None


def schema_to_proto(schema: CohortSchema) -> cohorts_pb2.CohortSchema:
    """The declared schema of an upload."""
    label = schema.label
    message = cohorts_pb2.CohortSchema(
        product=schema.product,
        purpose=schema.purpose,
        key=schema.key,
        label=cohorts_pb2.CohortLabel(
            column=label.column, kind=label.kind, classes=list(label.classes)
        ),
    )
    if label.bounds is not None:
        message.label.bounds.CopyFrom(common_pb2.Bounds(low=label.bounds[0], high=label.bounds[1]))
    for f in schema.features:
        feature = message.features.add(name=f.name, type=f.type, domain=list(f.domain))
        if f.bounds is not None:
            feature.bounds.CopyFrom(common_pb2.Bounds(low=f.bounds[0], high=f.bounds[1]))
    return message


def cohort_to_proto(info: CohortInfo) -> cohorts_pb2.Cohort:
    """An upload record as its owner sees it (no values: there are none in it)."""
    return cohorts_pb2.Cohort(
        upload_id=info.upload_id,
        product=info.product,
        dataset=info.dataset,
        digest=info.digest,
        rows=info.rows,
        size_bytes=info.size_bytes,
        state=info.state,
        created_at=info.created_at,
        expires_at=info.expires_at,
        erased_at=info.erased_at or "",
        erasure_id=info.erasure_id or "",
        erase_trigger=info.erase_trigger or "",
        schema=schema_to_proto(info.schema),
    )


def _optional(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def request_from_proto(r: cohorts_pb2.JointTrainingRequest) -> JointRequest:
    """The domain request; the planner validates it against product and cohort."""
    return JointRequest(
        product=r.product,
        upload_id=r.upload_id,
        epsilon=r.epsilon,
        delta=r.delta,
        zone_features=tuple(r.zone_features),
        operator_features=tuple(r.operator_features),
        no_operator_features=r.no_operator_features,
        epochs=_optional(r, "epochs"),
        batch_size=_optional(r, "batch_size"),
        learning_rate=_optional(r, "learning_rate"),
        max_grad_norm=_optional(r, "max_grad_norm"),
        seed=_optional(r, "seed"),
        keep_in_zone=r.keep_in_zone,
        keep_cohort=r.keep_cohort,
    )


def estimate_to_proto(estimate: JointEstimate) -> cohorts_pb2.JointEstimate:
    """The estimate's public numbers (and the DP count with its receipt id, if asked for)."""
    plan = estimate.plan
    reply = cohorts_pb2.JointEstimate(
        product=plan.training.product,
        cohort_rows=plan.cohort_rows,
        train_rows=plan.training.public_train_rows,
        steps=plan.training.steps,
        sample_rate=plan.training.sample_rate,
        charged=common_pb2.PrivacyBudget(epsilon=plan.epsilon, delta=plan.delta),
        epsilon_dpsgd=plan.epsilon_dpsgd,
        delta_dpsgd=plan.delta_dpsgd,
        epsilon_metrics=plan.epsilon_metrics,
        accounting=ACCOUNTING,
        guarantee=GUARANTEE,
    )
    if estimate.dp_matched is not None:
        reply.has_match_count = True
        reply.dp_matched = estimate.dp_matched
        reply.match_epsilon = estimate.match_epsilon
        reply.match_release_id = estimate.match_release_id
    return reply
