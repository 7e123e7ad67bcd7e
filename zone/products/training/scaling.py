"""Public scaling of training features and labels, derived from dataset metadata only.

Every transformation here is a function of the *public* metadata (bounds and domains), never of
the data, so it is itself public and is released with the model:

* numeric column with bounds ``[low, high]``: clipped to the bounds, then ``(v - low) / (high -
  low)``, so it lies in [0, 1]; the product may declare other public clipping bounds
  (``transforms: {col: {kind: scale, clip: [low, high]}}``);
* ``log1p`` (declared in the product, ``low > -1``): clipped to the bounds, then ``(log1p(v) -
  log1p(low)) / (log1p(high) - log1p(low))``, in [0, 1] (for skewed amounts: capital gains);
* boolean column: 0 or 1;
* column with a public domain (string, integer or date): one-hot in the declared domain order,
  one output per value, named ``column=value``; a value outside the domain is all zeros. A
  product's ``one_hot`` transform may name the domain itself, or one-hot an integer column that
  also has bounds.

Labels: a classification label (``binary``) has a two-value public domain (the *second* declared
value, or ``true``, is the positive class 1); a ``unit`` label is numeric with bounds [0, 1]
(clipped, used as a soft target); a regression label (``bounded``) is clipped to its bounds and
scaled to [0, 1], and released predictions are mapped back to label units.

No torch here: the server plans with these classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from zone.catalog._training import FeatureTransform, transform_problem
from zone.catalog.metadata import ColumnMeta

FeatureKind = Literal["numeric", "log1p", "boolean", "categorical"]
LabelKind = Literal["binary", "unit", "bounded"]
Value = str | int | bool

_FEATURE_KINDS = ("numeric", "log1p", "boolean", "categorical")
_BOUNDED = frozenset({"numeric", "log1p"})
_LABEL_KINDS = ("binary", "unit", "bounded")


def value_text(value: Value) -> str:
    """How DuckDB prints ``value`` after ``CAST(... AS VARCHAR)`` (booleans are lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bounds(data: Any) -> tuple[float, float] | None:
    if data is None:
        return None
    low, high = data
    return float(low), float(high)


def _values(data: Any) -> tuple[Value, ...]:
    values = tuple(data)
    for value in values:
        if not isinstance(value, str | int):
            raise ValueError("domain values must be strings, integers or booleans")
    return cast(tuple[Value, ...], values)


@dataclass(frozen=True)
class FeatureScaling:
    """How one feature column becomes model inputs (one, or one per domain value)."""

    column: str
    kind: FeatureKind
    bounds: tuple[float, float] | None = None
    domain: tuple[Value, ...] = ()

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the model inputs this column produces, in order."""
        if self.kind == "categorical":
            return tuple(f"{self.column}={value_text(v)}" for v in self.domain)
        return (self.column,)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (also the released description of the scaling)."""
        data: dict[str, Any] = {"column": self.column, "kind": self.kind}
        if self.bounds is not None:
            data["bounds"] = list(self.bounds)
        if self.kind == "categorical":
            data["domain"] = list(self.domain)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureScaling:
        """Inverse of :meth:`to_dict` (checked)."""
        kind = data["kind"]
        if kind not in _FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {kind!r}")
        scaling = cls(
            str(data["column"]),
            kind,
            _bounds(data.get("bounds")),
            _values(data.get("domain", ())),
        )
        if (scaling.kind in _BOUNDED) != (scaling.bounds is not None):
            raise ValueError("numeric and log1p features (only) carry bounds")
        if scaling.kind == "log1p" and scaling.bounds is not None and scaling.bounds[0] <= -1:
            raise ValueError("log1p features need a lower bound above -1")
        if (scaling.kind == "categorical") != bool(scaling.domain):
            raise ValueError("categorical features (only) carry a domain")
        return scaling

    @classmethod
    def for_feature(
        cls, name: str, column: ColumnMeta, transform: FeatureTransform | None
    ) -> FeatureScaling | None:
        """The public scaling of feature ``name`` under the product's ``transform`` (if any).

        None when public facts do not allow one (``zone.catalog._training.transform_problem``
        says why; product loading refuses such products).
        """
        if transform is None:
            return cls.from_meta(name, column)
        if transform_problem(name, column, transform) is not None:
            return None
        if transform.kind == "one_hot":
            domain = transform.domain or column.public_domain or ()
            return cls(name, "categorical", domain=tuple(domain))
        low, high = transform.clip or column.bounds or (0.0, 1.0)
        kind: FeatureKind = "log1p" if transform.kind == "log1p" else "numeric"
        return cls(name, kind, (float(low), float(high)))

    @classmethod
    def from_meta(cls, name: str, column: ColumnMeta) -> FeatureScaling | None:
        """The public scaling of column ``name``, or None when the metadata allows none."""
        if column.type == "boolean":
            return cls(name, "boolean")
        if column.is_numeric and column.bounds is not None:
            return cls(name, "numeric", (float(column.bounds[0]), float(column.bounds[1])))
        if column.domain:
            return cls(name, "categorical", domain=tuple(column.domain))
        return None


@dataclass(frozen=True)
class LabelScaling:
    """How the label column becomes the training target in [0, 1]."""

    column: str
    kind: LabelKind
    bounds: tuple[float, float] | None = None
    classes: tuple[Value, ...] = ()  # (negative, positive) for binary labels

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (also the released description of the label)."""
        data: dict[str, Any] = {"column": self.column, "kind": self.kind}
        if self.bounds is not None:
            data["bounds"] = list(self.bounds)
        if self.classes:
            data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelScaling:
        """Inverse of :meth:`to_dict` (checked)."""
        kind = data["kind"]
        if kind not in _LABEL_KINDS:
            raise ValueError(f"unknown label kind {kind!r}")
        scaling = cls(
            str(data["column"]), kind, _bounds(data.get("bounds")), _values(data.get("classes", ()))
        )
        if (scaling.kind == "binary") != (len(scaling.classes) == 2):
            raise ValueError("binary labels (only) carry two classes")
        if (scaling.kind == "bounded") != (scaling.bounds is not None):
            raise ValueError("bounded labels (only) carry bounds")
        return scaling

    @classmethod
    def classifier(cls, name: str, column: ColumnMeta) -> LabelScaling | None:
        """A binary target from ``column``, or None when it is not publicly binary."""
        domain = column.public_domain
        if domain is not None and len(domain) == 2:
            return cls(name, "binary", classes=(domain[0], domain[1]))
        if column.is_numeric and column.bounds == (0.0, 1.0):
            return cls(name, "unit")
        return None

    @classmethod
    def regression(cls, name: str, column: ColumnMeta) -> LabelScaling | None:
        """A bounded regression target from ``column``, or None without public bounds."""
        if column.is_numeric and column.bounds is not None:
            return cls(name, "bounded", (float(column.bounds[0]), float(column.bounds[1])))
        return None
