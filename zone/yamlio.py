"""YAML loading with file:line for every value, bounded, and pydantic validation that reports them.

Plain Python data is built directly from the parser's event stream (libyaml's when available),
remembering the line of each path, so that a pydantic error at ``("grants", 2, "budget")`` is
reported as ``policies/ops.yaml:41: grants[2].budget: ...``. Duplicate mapping keys, which
PyYAML accepts silently, are reported as problems.

Every file an administrator writes passes here, and a policy reload runs while the zone serves,
so the loader is bounded before any work grows with the input (an alias "billion laughs" of
10^7 nodes took 1.9 GB and ended in MemoryError; 5,000 nested brackets ended in RecursionError):

* at most :data:`MAX_FILE_BYTES` per file (checked before reading it whole),
* at most :data:`MAX_NODES` values, counted with aliases expanded (each use of an anchor counts
  every value under it, because every consumer of the data walks it expanded),
* at most :data:`MAX_ALIASES` alias uses, and
* at most :data:`MAX_DEPTH` levels of nesting, aliases included.

The builder is iterative (no recursion), an alias may only name a finished anchor (no cycles),
and a value refers to its anchor's data without copying it. Exceeding a bound is one problem at
the line where it happened; nothing partial is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import pydantic
import yaml

from zone._yamlevents import Bounds, EventSource, build_document
from zone.errors import Problem, ValidationFailed

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=pydantic.BaseModel)

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest YAML file read (4 MiB; the demo's largest file is 4 KB)."""
MAX_NODES = 250_000
"""Most values one file may hold, aliases expanded (a policy set of 5,000 grants is ~100,000)."""
MAX_ALIASES = 1_000
"""Most alias uses (``*name``) in one file."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences (the zone's schemas need 6)."""

DEFAULT_BOUNDS = Bounds(nodes=MAX_NODES, aliases=MAX_ALIASES, depth=MAX_DEPTH)


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


def _loader(text: str) -> yaml.SafeLoader:
    # libyaml's parser is about 20 times faster than PyYAML's; both produce the same events.
    cls = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    loader: yaml.SafeLoader = cls(text)
    return loader


def parse_yaml(text: str, source: str, bounds: Bounds = DEFAULT_BOUNDS) -> YamlDocument:
    """Parse one YAML document within ``bounds``.

    Raises:
        ValidationFailed: syntax errors, duplicate keys, unsupported tags, non-string keys, or
            a file beyond a bound (size, values, aliases, depth), each as ``file:line``.
    """
    what = f"loading {source}"
    if len(text) > MAX_FILE_BYTES:
        raise ValidationFailed([_too_large(source)], what=what)
    loader = _loader(text)
    try:
        data, lines, problems = build_document(cast(EventSource, loader), source, bounds)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ValidationFailed(
            [Problem(source, line, f"invalid YAML: {exc.problem or exc.context}")], what=what
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationFailed([Problem(source, None, f"invalid YAML: {exc}")], what=what) from None
    finally:
        loader.dispose()
    if problems:
        raise ValidationFailed(problems, what=what)
    return YamlDocument(source, data, lines)


def _too_large(source: str) -> Problem:
    return Problem(source, None, f"file is larger than {MAX_FILE_BYTES:,} bytes")


def read_yaml_bytes(path: Path, source: str | None = None) -> bytes:
    """Read a YAML file of at most :data:`MAX_FILE_BYTES` (never more than that into memory).

    Raises:
        ValidationFailed: the file cannot be read or is too large.
    """
    name = source or str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValidationFailed(
            [Problem(name, None, f"cannot read: {exc.strerror or 'I/O error'}")]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ValidationFailed([_too_large(name)], what=f"loading {name}")
    return raw


def load_yaml(path: Path, source: str | None = None) -> YamlDocument:
    """Read and parse a YAML file; unreadable, oversized or non-UTF-8 files become problems."""
    name = source or str(path)
    raw = read_yaml_bytes(path, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed([Problem(name, None, "cannot read: not valid UTF-8")]) from None
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
