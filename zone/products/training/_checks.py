"""Checks of a training request's columns and privacy parameters (used by ``plan_training``)."""

from __future__ import annotations

import math

from zone.catalog.levels import Use, allows
from zone.catalog.metadata import DatasetMeta
from zone.catalog.product_models import TrainingProduct
from zone.products.training.request import TrainingRequest
from zone.products.training.scaling import FeatureScaling, LabelScaling

MAX_DELTA = 1e-3
MAX_EPSILON = 100.0  # sanity limit: beyond it noise calibration is meaningless (and slow)


def columns(
    request: TrainingRequest, product: TrainingProduct, meta: DatasetMeta, problems: list[str]
) -> tuple[tuple[FeatureScaling, ...], LabelScaling | None]:
    """The public scaling of the requested features and of the label; problems appended."""
    names = request.features or product.features
    if len(set(names)) != len(names):
        problems.append("features must be unique")
    scaling: list[FeatureScaling] = []
    for name in dict.fromkeys(names):
        column = meta.columns.get(name)
        if name not in product.features or column is None:
            problems.append(f"feature {name!r} is not one of the product's features")
        elif not allows(column.level, Use.TRAINING):  # L4 (zone.catalog.levels)
            problems.append(f"column {name!r} is classified {column.level} and cannot be read")
        else:
            feature = FeatureScaling.for_feature(name, column, product.transforms.get(name))
            if feature is None:
                problems.append(f"feature {name!r} has no public bounds or domain")
            else:
                scaling.append(feature)
    column = meta.columns.get(product.label)
    if column is None or not allows(column.level, Use.TRAINING):
        problems.append(f"label {product.label!r} is missing or classified L4")
        return tuple(scaling), None
    if product.family == "linear_regression":
        label = LabelScaling.regression(product.label, column)
        need = "numeric with public bounds"
    else:
        label = LabelScaling.classifier(product.label, column)
        need = "binary (a two-value public domain, or bounds [0, 1])"
    if label is None:
        problems.append(f"label {product.label!r} must be {need} for family {product.family}")
    return tuple(scaling), label


def privacy(request: TrainingRequest, public_row_count: int, problems: list[str]) -> None:
    """Epsilon and delta: finite, in range, and delta below 1 / public row count."""
    epsilon, delta = request.epsilon, request.delta
    if not _real(epsilon) or not 0 < epsilon <= MAX_EPSILON:
        problems.append(f"epsilon must be a finite number in (0, {MAX_EPSILON:g}]")
    if not _real(delta) or not 0 < delta <= MAX_DELTA:
        problems.append(f"delta must be a number in (0, {MAX_DELTA:g}]")
    elif public_row_count > 0 and not delta < 1 / public_row_count:
        problems.append(
            f"delta must be below 1 / (public row count {public_row_count}) = "
            f"{1 / public_row_count:.3g}"
        )


def _real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
