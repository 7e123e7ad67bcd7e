"""Hyperparameters of a training request: defaults, product bounds and validation.

A hyperparameter the caller leaves out takes its default, clamped into the product's approved
bounds. A hyperparameter the caller sets must lie inside the product's bounds; one without
approved bounds may not be set at all (the default is the only approved value).

Defaults (measured on UCI Adult with plain Opacus: epsilon 1 -> 0.847 test accuracy, as
non-private training) are chosen so that a caller need not tune them: 20 epochs, expected batch
256, clipping norm 1.0, hidden width 32, and a learning rate of 2.0 for logistic regression but
0.5 for linear regression (the squared loss has no saturation: 2.0 oscillated to an RMSE 40x
worse on the toy test table) and for the mlp. Plain SGD throughout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from zone.catalog.product_models import INTEGER_PARAMETERS


class HyperProduct(Protocol):
    """What hyperparameter resolution reads of a product (training and joint training)."""

    @property
    def id(self) -> str:
        """The product id (named in problems)."""

    @property
    def family(self) -> str:
        """The model family (its default learning rate)."""

    @property
    def bounds(self) -> Mapping[Any, tuple[float, float]]:
        """Approved bounds per hyperparameter name."""


DEFAULTS: Mapping[str, float] = {
    "epochs": 20,
    "batch_size": 256,
    "max_grad_norm": 1.0,
    "hidden_width": 32,
}
LEARNING_RATES: Mapping[str, float] = {
    "logistic_regression": 2.0,
    "linear_regression": 0.5,
    "mlp": 0.5,
}
ORDER = ("epochs", "batch_size", "learning_rate", "max_grad_norm", "hidden_width")


@dataclass(frozen=True)
class Hyper:
    """Resolved hyperparameters (hidden_width only for the mlp family)."""

    epochs: int
    batch_size: int
    learning_rate: float
    max_grad_norm: float
    hidden_width: int | None


def _bounds(product: HyperProduct, name: str) -> tuple[float, float] | None:
    return cast(Mapping[str, tuple[float, float]], product.bounds).get(name)


def default(name: str, product: HyperProduct) -> float:
    """The default of ``name`` for ``product``, clamped into its bounds."""
    value = LEARNING_RATES[product.family] if name == "learning_rate" else DEFAULTS[name]
    bounds = _bounds(product, name)
    if bounds is not None:
        value = min(max(value, bounds[0]), bounds[1])
    return value


def _check_given(name: str, value: object, product: HyperProduct) -> str | None:
    integer = name in INTEGER_PARAMETERS
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be a number"
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        return f"{name} must be an integer"
    if not math.isfinite(value):
        return f"{name} must be finite"
    bounds = _bounds(product, name)
    if bounds is None:
        shown = _show(name, default(name, product))
        return (
            f"{name} is not adjustable for product {product.id!r} (no approved bounds); "
            f"omit it to use the default {shown}"
        )
    low, high = bounds
    if not low <= value <= high:
        return f"{name} must be within [{_show(name, low)}, {_show(name, high)}], got {value}"
    return None


def _show(name: str, value: float) -> str:
    return str(int(value)) if name in INTEGER_PARAMETERS else repr(float(value))


def resolve(given: Mapping[str, object], product: HyperProduct) -> tuple[Hyper | None, list[str]]:
    """Resolve every hyperparameter; returns (hyperparameters or None, problems)."""
    problems: list[str] = []
    values: dict[str, float] = {}
    for name in ORDER:
        value = given.get(name)
        if name == "hidden_width" and product.family != "mlp":
            if value is not None:
                problems.append("hidden_width applies only to family mlp")
            continue
        if value is None:
            values[name] = default(name, product)
            continue
        problem = _check_given(name, value, product)
        if problem is not None:
            problems.append(problem)
        else:
            values[name] = float(value)  # type: ignore[arg-type]
    if problems:
        return None, problems
    width = values.get("hidden_width")
    hyper = Hyper(
        epochs=int(values["epochs"]),
        batch_size=int(values["batch_size"]),
        learning_rate=float(values["learning_rate"]),
        max_grad_norm=float(values["max_grad_norm"]),
        hidden_width=None if width is None else int(width),
    )
    return hyper, problems
