"""The declared schema of an operator's cohort: its key, label and own features, and the purpose.

The operator writes it next to its CSV (``zone cohorts upload FILE.csv --schema cohort.yaml``)::

    product: adult-joint
    purpose: income model for a credit-line product
    key: person_id
    label: {column: income, kind: binary, classes: ["<=50K", ">50K"]}   # negative, positive
    features:
      age: {type: integer, bounds: [17, 90]}
      hours_per_week: {type: float, bounds: [1, 99]}
      sex: {type: string, domain: [Female, Male]}
      owns_home: {type: boolean}

Bounds and domains are the operator's *public* declarations: the zone scales with them (never
with the data), clips numeric values into the bounds and refuses categorical values outside the
domain. A ``binary`` label trains logistic regression (the second class is the positive one); a
``bounded`` label (``bounds: [low, high]``) linear regression. :func:`parse_schema` checks a
schema whole and reports every problem with its location (the CLI turns locations into
``cohort.yaml:line``); the server checks the same again and then against the product.

Nothing here holds cohort values: the schema is stored with the upload record (names, bounds,
domains) and travels in the job spec; the values stay in the cohort file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from zone.catalog._fields import is_column_name
from zone.catalog._joint import JointTrainingProduct

FeatureType = Literal["integer", "float", "boolean", "string"]
LabelKind = Literal["binary", "bounded"]
FEATURE_TYPES: tuple[FeatureType, ...] = ("integer", "float", "boolean", "string")
MAX_PURPOSE = 500
MAX_DOMAIN = 1000
MAX_VALUE_TEXT = 200
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class OperatorFeature:
    """One feature column of the operator's own, with its public bounds or domain."""

    name: str
    type: FeatureType
    bounds: tuple[float, float] | None = None
    domain: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.bounds is not None:
            data["bounds"] = list(self.bounds)
        if self.domain:
            data["domain"] = list(self.domain)
        return data


@dataclass(frozen=True)
class LabelSpec:
    """The label column: ``binary`` with (negative, positive) classes, or ``bounded``."""

    column: str
    kind: LabelKind
    classes: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None

    @property
    def family(self) -> str:
        """The model family this label trains."""
        return "logistic_regression" if self.kind == "binary" else "linear_regression"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data: dict[str, Any] = {"column": self.column, "kind": self.kind}
        if self.classes:
            data["classes"] = list(self.classes)
        if self.bounds is not None:
            data["bounds"] = list(self.bounds)
        return data


@dataclass(frozen=True)
class CohortSchema:
    """What an upload declares (public facts and names, never values)."""

    product: str
    purpose: str
    key: str
    label: LabelSpec
    features: tuple[OperatorFeature, ...] = field(default=())

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the CSV must have: key, label, features."""
        return (self.key, self.label.column, *(f.name for f in self.features))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what the upload record stores and :func:`parse_schema` reads)."""
        return {
            "product": self.product,
            "purpose": self.purpose,
            "key": self.key,
            "label": self.label.to_dict(),
            "features": [f.to_dict() for f in self.features],  # a list: the order is the CSV's
        }


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((loc, message))


def _text(data: Mapping[str, Any], name: str, problems: _Problems, loc: Loc = ()) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        problems.add((*loc, name), f"{name} must be a non-empty string")
        return ""
    return value


def _bounds(value: Any, loc: Loc, problems: _Problems) -> tuple[float, float] | None:
    ok = isinstance(value, list | tuple) and len(value) == 2
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if ok:
        low, high = float(value[0]), float(value[1])
        if math.isfinite(low) and math.isfinite(high) and low < high:
            return low, high
    problems.add(loc, "bounds must be [low, high], finite numbers with low < high")
    return None


def _domain(value: Any, loc: Loc, problems: _Problems, size: tuple[int, int]) -> tuple[str, ...]:
    low, high = size
    texts = tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()
    valid = isinstance(value, list | tuple) and all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    )
    if not valid or not low <= len(texts) <= high or len(set(texts)) != len(texts):
        problems.add(loc, f"must list {low} to {high} distinct strings or integers")
        return ()
    if any(not t.strip() or len(t) > MAX_VALUE_TEXT or t != t.strip() for t in texts):
        problems.add(loc, f"values must be 1 to {MAX_VALUE_TEXT} characters, no outer spaces")
        return ()
    return texts


def _label(data: Any, problems: _Problems) -> LabelSpec | None:
    if not isinstance(data, Mapping):
        problems.add(("label",), "label must be a mapping with column and kind")
        return None
    column = _text(data, "column", problems, ("label",))
    kind = data.get("kind")
    unknown = sorted(set(data) - {"column", "kind", "classes", "bounds"})
    if unknown:
        problems.add(("label",), f"unknown field(s): {', '.join(map(str, unknown))}")
    if kind == "binary":
        classes = _domain(data.get("classes"), ("label", "classes"), problems, (2, 2))
        return LabelSpec(column, "binary", classes=classes) if classes and column else None
    if kind == "bounded":
        bounds = _bounds(data.get("bounds"), ("label", "bounds"), problems)
        return LabelSpec(column, "bounded", bounds=bounds) if bounds and column else None
    problems.add(("label", "kind"), "kind must be binary (with classes) or bounded (with bounds)")
    return None


def _feature(name: Any, data: Any, problems: _Problems) -> OperatorFeature | None:
    loc: Loc = ("features", str(name))
    if not isinstance(data, Mapping):
        problems.add(loc, "a feature must be a mapping with a type")
        return None
    kind = data.get("type")
    unknown = sorted(set(data) - {"type", "bounds", "domain"})
    if unknown:
        problems.add(loc, f"unknown field(s): {', '.join(map(str, unknown))}")
    if kind not in FEATURE_TYPES:
        problems.add((*loc, "type"), f"type must be one of: {', '.join(FEATURE_TYPES)}")
        return None
    if kind in ("integer", "float"):
        if "domain" in data:
            problems.add((*loc, "domain"), "numeric features take bounds, not a domain")
        bounds = _bounds(data.get("bounds"), (*loc, "bounds"), problems)
        return OperatorFeature(str(name), kind, bounds=bounds) if bounds else None
    if kind == "string":
        if "bounds" in data:
            problems.add((*loc, "bounds"), "string features take a domain, not bounds")
        domain = _domain(data.get("domain"), (*loc, "domain"), problems, (1, MAX_DOMAIN))
        return OperatorFeature(str(name), "string", domain=domain) if domain else None
    if "bounds" in data or "domain" in data:
        problems.add(loc, "boolean features take neither bounds nor a domain")
    return OperatorFeature(str(name), "boolean")


def _features(raw: Any, problems: _Problems) -> dict[Any, Any]:
    """Features as a mapping name -> spec (YAML writes a mapping; the stored form a list)."""
    if isinstance(raw, list | tuple):
        named = [f for f in raw if isinstance(f, Mapping) and isinstance(f.get("name"), str)]
        if len(named) == len(raw):
            out = {f["name"]: {k: v for k, v in f.items() if k != "name"} for f in named}
            if len(out) == len(raw):
                return out
    elif isinstance(raw, Mapping):
        return dict(raw)
    problems.add(("features",), "features must be a mapping of column name to type")
    return {}


def parse_schema(data: Any) -> tuple[CohortSchema | None, list[tuple[Loc, str]]]:
    """Build a schema from plain data (YAML or the upload's header); every problem, located."""
    problems = _Problems()
    if not isinstance(data, Mapping):
        return None, [((), "a cohort schema must be a mapping")]
    unknown = sorted(set(data) - {"product", "purpose", "key", "label", "features"})
    if unknown:
        problems.add((), f"unknown field(s): {', '.join(map(str, unknown))}")
    product = _text(data, "product", problems)
    purpose = _text(data, "purpose", problems)
    if len(purpose) > MAX_PURPOSE:
        problems.add(("purpose",), f"purpose must be at most {MAX_PURPOSE} characters")
    key = _text(data, "key", problems)
    label = _label(data.get("label"), problems)
    raw = _features(data.get("features", {}) or {}, problems)
    features = [_feature(name, spec, problems) for name, spec in raw.items()]
    names = [key, label.column if label else "", *map(str, raw)]
    for name in filter(None, names):
        if not is_column_name(name):
            problems.add(("features",) if name in raw else (), f"{name!r} is not a column name")
    folded = [n.lower() for n in names if n]
    if len(set(folded)) != len(folded):
        problems.add((), "key, label and feature columns must be distinct (ignoring case)")
    if problems.items or label is None or any(f is None for f in features):
        return None, problems.items
    kept = tuple(f for f in features if f is not None)
    return CohortSchema(product, purpose, key, label, kept), []


def product_problems(schema: CohortSchema, product: JointTrainingProduct) -> list[str]:
    """What the schema breaks of the product's rules (families, feature count)."""
    problems = []
    if schema.label.family not in product.families:
        families = ", ".join(product.families)
        problems.append(
            f"a {schema.label.kind} label trains {schema.label.family}, which product "
            f"{product.id!r} does not offer (it offers: {families})"
        )
    if len(schema.features) > product.max_operator_features:
        problems.append(
            f"at most {product.max_operator_features} operator features are allowed, "
            f"got {len(schema.features)}"
        )
    return problems
