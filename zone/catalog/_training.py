"""Schema parts of ``training`` products: declared feature transforms.

A transform is public and data-independent: it is a function of numbers written in the product
(or the dataset's public metadata), never of the data, so it is released with the model and
costs nothing. ``zone.products.training.scaling`` turns it into the model's input scaling.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from zone.catalog._fields import STRICT_FROZEN, as_tuple
from zone.catalog.metadata import ColumnMeta

TransformKind = Literal["scale", "log1p", "one_hot"]
DomainValue = str | int


def _shorthand(value: object) -> object:
    """``log1p`` stands for ``{kind: log1p}``."""
    return {"kind": value} if isinstance(value, str) else value


class FeatureTransform(BaseModel):
    """A public transform of one training feature (YAML: ``log1p`` or ``{kind: ..., ...}``)."""

    model_config = STRICT_FROZEN

    kind: TransformKind = Field(
        description=(
            "scale: clip to [low, high] and map linearly to [0, 1] (the default for numeric "
            "columns); log1p: clip to [low, high] (low > -1), take log(1 + x) and map "
            "linearly to [0, 1], for skewed amounts such as capital gains; one_hot: one input "
            "per value of a public domain (1 for the row's value, all 0 outside the domain), "
            "the default for columns with a domain and no bounds."
        )
    )
    clip: Annotated[tuple[float, float], BeforeValidator(as_tuple)] | None = Field(
        default=None,
        description=(
            "scale and log1p: public clipping bounds [low, high] in the column's units "
            "(default: the column's public bounds). Values outside are clipped to them."
        ),
    )
    domain: Annotated[tuple[DomainValue, ...], BeforeValidator(as_tuple)] | None = Field(
        default=None,
        description=(
            "one_hot: the public values to encode, in order (default: the column's public "
            "domain); typed like the column."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> FeatureTransform:
        if self.clip is not None:
            low, high = self.clip
            if self.kind == "one_hot":
                raise ValueError("clip applies to scale and log1p, not one_hot")
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError("clip must be [low, high] with finite low < high")
            if self.kind == "log1p" and low <= -1:
                raise ValueError("log1p needs clip low > -1")
        if self.domain is not None:
            if self.kind != "one_hot":
                raise ValueError("domain applies to one_hot only")
            if not self.domain or len(set(self.domain)) != len(self.domain):
                raise ValueError("domain must list unique values")
        return self


Transform = Annotated[FeatureTransform, BeforeValidator(_shorthand)]


def transform_problem(
    name: str, column: ColumnMeta, transform: FeatureTransform | None
) -> str | None:
    """Why feature ``name`` cannot be scaled from public facts with ``transform`` (or None)."""
    if transform is None:
        if column.is_numeric and column.bounds is None:
            return f"feature {name!r} needs public bounds (or a transform with clip)"
        if not column.is_numeric and column.public_domain is None:
            return f"feature {name!r} needs public bounds (numeric) or a public domain"
        return None
    if transform.kind == "one_hot":
        return _one_hot_problem(name, column, transform)
    if not column.is_numeric:
        return f"feature {name!r}: {transform.kind} needs an integer or float column"
    bounds = transform.clip or column.bounds
    if bounds is None:
        return f"feature {name!r}: {transform.kind} needs clip bounds (the column has none)"
    if transform.kind == "log1p" and bounds[0] <= -1:
        return f"feature {name!r}: log1p needs a lower bound above -1"
    return None


def _one_hot_problem(name: str, column: ColumnMeta, transform: FeatureTransform) -> str | None:
    if column.type == "float":
        return f"feature {name!r}: one_hot needs a string, integer, date or boolean column"
    if transform.domain is None:
        if column.public_domain is None:
            return f"feature {name!r}: one_hot needs a domain (the column has none)"
        return None
    if column.type == "boolean":
        return f"feature {name!r}: a boolean column's domain is fixed; omit domain"
    wanted = int if column.type == "integer" else str
    if not all(type(v) is wanted for v in transform.domain):
        return f"feature {name!r}: domain values must be {wanted.__name__}s like the column"
    return None
