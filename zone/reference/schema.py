"""The files an administrator writes, as JSON Schema with every field described.

Each document (dataset metadata, products, policies, the zone config) is the pydantic model the
zone validates it with. Field descriptions come from the models themselves: a field's own
``description``, else the ``Attributes:`` section of its class docstring (Google style, as the
models are written). The same schema feeds ``zone schema KIND`` (for editors that validate YAML
as it is typed) and docs/REFERENCE.md (``scripts/gen_reference.py``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args

from pydantic import BaseModel, Field, TypeAdapter
from pydantic_core import to_jsonable_python

from zone.catalog.metadata import DatasetMeta
from zone.catalog.product_models import PRODUCT_MODELS
from zone.config_file import CONFIG_FILE_MODEL
from zone.policy.schema import PolicyFile

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SECTION = re.compile(r"^(Args|Attributes|Returns|Raises|Yields|Examples?|Notes?):\s*$")
_ENTRY = re.compile(r"^(\w+):\s*(.*)$")


@dataclass(frozen=True)
class Document:
    """One kind of file: its name for ``zone schema``, title, roots, example files, schema title."""

    name: str
    title: str
    roots: tuple[type[BaseModel], ...]
    examples: tuple[str, ...]
    schema_title: str

    def adapter(self) -> TypeAdapter[Any]:
        """What validates the whole file (one model, or the product kinds by ``kind``)."""
        if len(self.roots) == 1:
            return TypeAdapter(self.roots[0])
        kinds: Any = Union[self.roots]  # noqa: UP007 - a Union built from a tuple of types
        return TypeAdapter(Annotated[kinds, Field(discriminator="kind")])


DOCUMENTS: dict[str, Document] = {
    "metadata": Document(
        "metadata",
        "Dataset metadata",
        (DatasetMeta,),
        ("examples/enterprises.meta.yaml",),
        "Zone dataset metadata (zone datasets import --meta)",
    ),
    "product": Document(
        "product",
        "Products",
        tuple(PRODUCT_MODELS.values()),
        (
            "models/enterprise-stats.yaml",
            "models/enterprise-default-lr.yaml",
            "models/capital-match.yaml",
        ),
        "Zone product (models/*.yaml)",
    ),
    "policy": Document(
        "policy", "Policies", (PolicyFile,), ("policies/demo.yaml",), "Zone policy file"
    ),
    "config": Document(
        "config", "Zone config", (CONFIG_FILE_MODEL,), ("examples/zone.yaml",), "Zone config"
    ),
}


def docstring_parts(cls: type) -> tuple[str, dict[str, str]]:
    """The summary of a class docstring (text before its first section) and its attributes.

    Attributes documented on base classes count too (a subclass may override them).
    """
    attributes: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.partition(".")[0] in ("pydantic", "builtins"):
            continue  # BaseModel documents its own internals
        if klass.__dict__.get("__doc__"):
            attributes.update(_attributes(inspect.cleandoc(klass.__doc__ or "")))
    text = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    summary = []
    for line in text.splitlines():
        if _SECTION.match(line):
            break
        summary.append(line)
    return _plain(" ".join(summary)), attributes


def _attributes(text: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    inside = False
    for line in text.splitlines():
        if _SECTION.match(line):
            inside = line.startswith("Attributes")
            current = None
            continue
        if not inside or not line.strip():
            continue
        entry = _ENTRY.match(line[4:]) if line.startswith("    ") and line[4] != " " else None
        if entry:
            current = out.setdefault(entry.group(1), [])
            current.append(entry.group(2))
        elif current is not None:
            current.append(line.strip())
    return {name: _plain(" ".join(parts)) for name, parts in out.items()}


def _plain(text: str) -> str:
    """One line, with reStructuredText's ````code```` written as Markdown's ```code```."""
    return " ".join(text.replace("``", "`").split())


def models_in(tp: Any, seen: set[type[BaseModel]] | None = None) -> Iterator[type[BaseModel]]:
    """Every pydantic model reachable from the type ``tp`` (itself included), once each."""
    seen = set() if seen is None else seen
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return
        seen.add(tp)
        yield tp
        for field in tp.model_fields.values():
            yield from models_in(field.annotation, seen)
        return
    for arg in get_args(tp):
        yield from models_in(arg, seen)


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of document ``name``, every model and field described.

    Raises:
        KeyError: ``name`` is not one of :data:`DOCUMENTS`.
    """
    document = DOCUMENTS[name]
    schema = document.adapter().json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    for root in document.roots:
        for model in models_in(root):
            node = defs.get(model.__name__, schema if model is root else None)
            if node is not None:
                _describe(node, model)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "title": document.schema_title}


def _describe(node: dict[str, Any], model: type[BaseModel]) -> None:
    summary, attributes = docstring_parts(model)
    node["description"] = summary
    for name, prop in node.get("properties", {}).items():
        field = model.model_fields[name]
        text = field.description or attributes.get(name)
        if text:
            prop["description"] = text
        if "default" not in prop and field.default_factory is not None:
            prop["default"] = to_jsonable_python(field.get_default(call_default_factory=True))
