"""YAML loading with file:line for every value, and pydantic validation that reports them.

PyYAML's composer keeps a mark (line) on every node; we build plain Python data from the node
tree and remember the line of each path, so that a pydantic error at ``("grants", 2, "budget")``
is reported as ``policies/ops.yaml:41: grants[2].budget: ...``. Duplicate mapping keys, which
PyYAML accepts silently, are reported as problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from zone.errors import Problem, ValidationFailed

Loc = tuple[str | int, ...]
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
M = TypeVar("M", bound=pydantic.BaseModel)


class YamlDocument:
    """Plain data parsed from one YAML file, with the line of every path."""

    def __init__(self, source: str, data: Any, lines: dict[Loc, int]) -> None:
        self.source = source
        self.data = data
        self.lines = lines

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Line of the deepest known node on ``loc`` (1-based)."""
        path = tuple(loc)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        """A problem located at ``loc`` in this document."""
        return Problem(self.source, self.line_of(loc), message)


def _build(
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    problems: list[Problem],
    source: str,
    constructor: yaml.SafeLoader,
) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        problems.append(Problem(source, lines[loc], f"unsupported YAML tag {node.tag!r}"))
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                problems.append(
                    Problem(source, key_node.start_mark.line + 1, "mapping keys must be strings")
                )
                continue
            if key in out:
                problems.append(
                    Problem(source, key_node.start_mark.line + 1, f"duplicate key {key!r}")
                )
                continue
            out[key] = _build(value_node, (*loc, key), lines, problems, source, constructor)
            # A problem with a value is reported at its key, not at the first nested line.
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*loc, i), lines, problems, source, constructor)
            for i, item in enumerate(node.value)
        ]
    return constructor.construct_object(node, deep=True)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; raise ValidationFailed on syntax errors or duplicate keys."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        problems: list[Problem] = []
        lines: dict[Loc, int] = {}
        data = None if node is None else _build(node, (), lines, problems, source, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ValidationFailed(
            [Problem(source, line, f"invalid YAML: {exc.problem or exc.context}")],
            what=f"loading {source}",
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationFailed(
            [Problem(source, None, f"invalid YAML: {exc}")], what=f"loading {source}"
        ) from None
    finally:
        loader.dispose()
    if problems:
        raise ValidationFailed(problems, what=f"loading {source}")
    return YamlDocument(source, data, lines)


def load_yaml(path: Path, source: str | None = None) -> YamlDocument:
    """Read and parse a YAML file; unreadable or non-UTF-8 files become problems too."""
    name = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8"
        raise ValidationFailed([Problem(name, None, f"cannot read: {reason}")]) from None
    return parse_yaml(text, name)


def format_loc(loc: Sequence[str | int]) -> str:
    """Render a pydantic location as ``grants[2].budget``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def pydantic_problems(
    doc: YamlDocument, error: pydantic.ValidationError, prefix: Loc = ()
) -> list[Problem]:
    """Turn a pydantic error into located problems (one per failing field)."""
    problems = []
    for err in error.errors(include_url=False, include_input=False):
        loc = (*prefix, *(p for p in err["loc"] if isinstance(p, str | int)))
        where = format_loc(loc)
        message = f"{where}: {err['msg']}" if where else str(err["msg"])
        problems.append(doc.problem(loc, message))
    return problems


def validate_model(
    doc: YamlDocument, model: type[M], data: Any = None, prefix: Loc = ()
) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` (default: the whole document) against ``model``.

    Returns the model or None, and the problems found; never raises for invalid input, so
    callers can collect problems across many documents and report them all at once.
    """
    value = doc.data if data is None and not prefix else data
    try:
        return model.model_validate(value), []
    except pydantic.ValidationError as exc:
        return None, pydantic_problems(doc, exc, prefix)
