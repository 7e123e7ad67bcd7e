"""Catalog replies as the SDK's typed values (``zone.client.types``)."""

from __future__ import annotations

import zone.client.types as types
from zone._proto import catalog_pb2, common_pb2


def dataset_summary(d: catalog_pb2.DatasetSummary) -> types.DatasetSummary:
    """A dataset's summary."""
    return types.DatasetSummary(
        d.name,
        d.description,
        d.provider,
        d.version,
        d.approx_row_count,
        d.row_count_granularity,
        d.open_level,
    )


def column(c: catalog_pb2.ColumnInfo) -> types.Column:
    """A column of a dataset description."""
    return types.Column(
        name=c.name,
        type=c.type,
        classification=common_pb2.Classification.Name(c.classification),
        description=c.description,
        bounds=(c.bounds.low, c.bounds.high) if c.HasField("bounds") else None,
        domain=tuple(c.domain),
    )


def product_summary(p: catalog_pb2.ProductSummary) -> types.ProductSummary:
    """A product's summary."""
    return types.ProductSummary(p.id, p.kind, p.dataset, p.description)


def grant(g: catalog_pb2.GrantTerms) -> types.GrantTerms:
    """The caller's grant terms for a product."""
    return types.GrantTerms(
        budget={k: (v.epsilon, v.delta) for k, v in g.budget.items()},
        per_job_epsilon=g.per_job_epsilon,
        calls_per_day=g.calls_per_day,
        price_per_call=g.price.per_call,
        currency=g.price.currency,
        purpose=g.purpose,
        valid_from=g.valid_from,
        valid_until=g.valid_until,
    )
