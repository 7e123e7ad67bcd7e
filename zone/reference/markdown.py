"""docs/REFERENCE.md, rendered from the JSON Schema of each document (``zone.reference.schema``).

One table per document (per kind for products): every field by its dotted path (``[]`` for the
items of a list, ``<name>`` for the keys of a map), its type with the bounds the zone enforces,
its default and its meaning; then the repository's own example of the file, which the test
suite validates like any other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zone.reference.prose import HEADER, INTRO
from zone.reference.schema import DOCUMENTS, Document, json_schema

Row = tuple[str, str, str, str]
_BOUNDS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
)


def render(root: Path) -> str:
    """The whole reference; ``root`` is the repository (for the example files)."""
    parts = [HEADER]
    for document in DOCUMENTS.values():
        parts.append(_document(document, root))
    return "\n".join(parts).rstrip() + "\n"


def _document(document: Document, root: Path) -> str:
    schema = json_schema(document.name)
    defs = schema.get("$defs", {})
    out = [f"## {document.title}\n", INTRO[document.name]]
    if len(document.roots) == 1:
        out.append(_table(_rows(schema, defs, "", set())))
    else:
        for model in document.roots:
            node = defs[model.__name__]
            kind = node["properties"]["kind"]["const"]
            out.append(f"### `kind: {kind}`\n\n{node['description']}\n")
            out.append(_table(_rows(node, defs, "", {model.__name__})))
    for example in document.examples:
        text = (root / example).read_text(encoding="utf-8").rstrip()
        out.append(f"Example (`{example}`, from the demo):\n\n```yaml\n{text}\n```\n")
    return "\n".join(out)


def _table(rows: Iterator[Row]) -> str:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines) + "\n"


def _rows(node: dict[str, Any], defs: dict[str, Any], prefix: str, seen: set[str]) -> Iterator[Row]:
    required = set(node.get("required", ()))
    for name, prop in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        default = "required" if name in required else _default(prop)
        child = _child(prop, defs)
        if child is not None and child[0] == "" and isinstance(prop.get("default"), dict):
            default = "each field's default"
        yield f"`{path}`", _type(prop, defs), default, prop.get("description", "")
        if child is not None and child[1] not in seen:
            suffix, ref = child
            yield from _rows(defs[ref], defs, f"{path}{suffix}.", seen | {ref})


def _child(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, str] | None:
    """The model a field holds (directly, as list items or as map values), and its path suffix."""
    for option in _options(prop):
        if "$ref" in option:
            return "", _ref(option)
        items = option.get("items", {})
        if "$ref" in items:
            return "[]", _ref(items)
        values = option.get("additionalProperties")
        if isinstance(values, dict) and "$ref" in values:
            return ".<name>", _ref(values)
    return None


def _options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    options = prop.get("anyOf") or prop.get("oneOf") or [prop]
    return [o for o in options if o.get("type") != "null"]


def _ref(node: dict[str, Any]) -> str:
    return str(node["$ref"]).rsplit("/", 1)[1]


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    return " or ".join(dict.fromkeys(_one_type(o, defs) for o in _options(prop))) or "any"


def _one_type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in node:
        return "mapping (fields below)"
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type")
    if kind == "array":
        if "prefixItems" in node:
            return "[" + ", ".join(_one_type(i, defs) for i in node["prefixItems"]) + "]"
        items = node.get("items")
        text = f"list of {_type(items, defs)}" if items else "list"
        return text + _bounds(node, "minItems", "maxItems", "")
    if kind == "object":
        keys = node.get("propertyNames", {})
        key = _one_type(keys, defs) if "enum" in keys else "name"
        values = node.get("additionalProperties")
        if "$ref" in (values or {}):
            return f"map of {key} to mapping (fields below)"
        return f"map of {key} to {_type(values, defs)}" if isinstance(values, dict) else "mapping"
    if kind == "string":
        text = "date (YYYY-MM-DD)" if node.get("format") == "date" else "string"
        if "pattern" in node:
            text += f" matching `{node['pattern']}`"
        return text + _bounds(node, "minLength", "maxLength", "characters")
    if kind in ("integer", "number", "boolean"):
        limits = [f"{sign} {_number(node[key])}" for key, sign in _BOUNDS if key in node]
        return f"{kind} {', '.join(limits)}".rstrip() if limits else str(kind)
    return "any"


def _bounds(node: dict[str, Any], low: str, high: str, unit: str) -> str:
    parts = []
    if low in node:
        parts.append(f"at least {node[low]}")
    if high in node:
        parts.append(f"at most {node[high]}")
    return f" ({', '.join(parts)}{' ' + unit if unit else ''})" if parts else ""


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return "—"
    value = prop["default"]
    if value is None:
        return "none"
    return f"`{json.dumps(value, ensure_ascii=False)}`"
