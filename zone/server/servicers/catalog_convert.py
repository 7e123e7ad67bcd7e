"""Domain -> proto conversion for the catalog service."""

from __future__ import annotations

from google.protobuf import struct_pb2

from zone._proto import catalog_pb2, common_pb2
from zone.catalog import DatasetInfo
from zone.catalog.visibility import DatasetView, ProductView
from zone.policy import Grant

HIDDEN_LEVELS = frozenset({"L4"})


def dataset_summary(view: DatasetView) -> catalog_pb2.DatasetSummary:
    """Summary of a visible dataset (row count rounded to the public granularity)."""
    info = view.info
    return catalog_pb2.DatasetSummary(
        name=info.name,
        description=info.meta.description,
        provider=info.meta.provider,
        version=info.version,
        approx_row_count=view.approx_row_count,
        row_count_granularity=view.granularity,
        open_level=info.meta.open_level,
    )


def _columns(info: DatasetInfo) -> list[catalog_pb2.ColumnInfo]:
    out = []
    for name, col in info.meta.columns.items():
        column = catalog_pb2.ColumnInfo(
            name=name,
            type=col.type,
            classification=col.level,
            description=col.description,
        )
        if col.level not in HIDDEN_LEVELS:
            if col.bounds is not None:
                column.bounds.CopyFrom(common_pb2.Bounds(low=col.bounds[0], high=col.bounds[1]))
            column.domain.extend(str(v) for v in col.domain or ())
        out.append(column)
    return out


def _open_data(info: DatasetInfo) -> catalog_pb2.OpenData | None:
    found = info.meta.open_data
    if found is None:
        return None
    registration = found.registration
    return catalog_pb2.OpenData(
        open_level=found.open_level,
        open_mode=found.open_mode,
        responsible_provider=found.responsible_provider,
        registration_id=registration.id if registration else "",
        registered_on=registration.registered_on if registration else "",
        certificate_digest=registration.certificate_digest if registration else "",
    )


def dataset_description(view: DatasetView) -> catalog_pb2.DatasetDescription:
    """Schema and public metadata of a dataset; no rows and no sample values."""
    return catalog_pb2.DatasetDescription(
        summary=dataset_summary(view),
        entity_key=view.info.meta.entity_key,
        columns=_columns(view.info),
        products=list(view.products),
        quality_report_json=view.quality_report.to_json() if view.quality_report else "",
        open_data=_open_data(view.info),
    )


def product_summary(view: ProductView) -> catalog_pb2.ProductSummary:
    """Id, kind, dataset and description of a product."""
    product = view.product
    return catalog_pb2.ProductSummary(
        id=product.id, kind=product.kind, dataset=product.dataset, description=product.description
    )


def _grant_terms(grant: Grant) -> catalog_pb2.GrantTerms:
    terms = catalog_pb2.GrantTerms(
        budget={
            name: common_pb2.PrivacyBudget(epsilon=b.epsilon, delta=b.delta)
            for name, b in grant.budget.items()
        },
        per_job_epsilon=grant.per_job_epsilon or 0.0,
        calls_per_day=grant.calls_per_day or 0,
        purpose=grant.purpose,
        valid_from=grant.valid_from.isoformat() if grant.valid_from else "",
        valid_until=grant.valid_until.isoformat() if grant.valid_until else "",
    )
    if grant.price is not None:
        terms.price.CopyFrom(
            common_pb2.Price(per_call=grant.price.per_call, currency=grant.price.currency)
        )
    return terms


def product_description(view: ProductView) -> catalog_pb2.ProductDescription:
    """Approved parameters of a product and the caller's own grant terms."""
    parameters = struct_pb2.Struct()
    parameters.update(dict(view.parameters))
    description = catalog_pb2.ProductDescription(
        summary=product_summary(view), columns=list(view.columns), parameters=parameters
    )
    if view.grant is not None:
        description.grant.CopyFrom(_grant_terms(view.grant))
    return description
