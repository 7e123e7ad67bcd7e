"""Plain data from a YAML event stream, iteratively and within bounds (see ``zone.yamlio``).

One pass over the parser's events with an explicit stack: no recursion (so nesting cannot
exhaust Python's stack), every value counted with aliases expanded, and the first bound
exceeded stops the parse at its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from zone.errors import Problem

Loc = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_SCALAR_TAGS = frozenset(
    {_STR} | {f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")}
)
_CONTAINER_TAGS = {
    yaml.MappingStartEvent: "tag:yaml.org,2002:map",
    yaml.SequenceStartEvent: "tag:yaml.org,2002:seq",
}
_MERGE = "tag:yaml.org,2002:merge"


class EventSource(Protocol):
    """What the builder uses of a PyYAML loader (its stubs leave these methods untyped)."""

    yaml_constructors: dict[Any, Any]

    def get_event(self) -> Any:
        """The next event."""

    def check_event(self, *choices: type) -> bool:
        """Whether the next event is one of ``choices``."""

    def peek_event(self) -> Any:
        """The next event, left in the stream."""

    def resolve(self, kind: type, value: str, implicit: Any) -> str:
        """The tag of an untagged scalar."""


@dataclass(frozen=True)
class Bounds:
    """Limits on one document: values (aliases expanded), alias uses, nesting depth."""

    nodes: int
    aliases: int
    depth: int


class _Exceeded(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _Skip:
    """Marks a mapping entry whose key was refused: its value is parsed, then dropped."""


_SKIP = _Skip()
_NO_KEY = object()


@dataclass
class _Value:
    data: Any
    count: int  # values inside, aliases expanded, itself included
    height: int  # container levels inside (0 for a scalar)
    line: int
    reported: bool = False  # a problem with it is already recorded


@dataclass
class _Frame:
    is_map: bool
    loc: Loc | None  # None: inside a key or a dropped entry (no lines recorded)
    line: int
    start: int  # the node counter before this container
    anchor: str | None
    bad_tag: bool
    data: Any = None
    height: int = 0
    key: Any = _NO_KEY
    key_line: int = 0
    entries: list[Any] = field(default_factory=list)


class _Builder:
    def __init__(self, loader: EventSource, source: str, bounds: Bounds) -> None:
        self._loader = loader
        self._source = source
        self._bounds = bounds
        self._stack: list[_Frame] = []
        self._anchors: dict[str, _Value] = {}
        self._nodes = 0
        self._aliases = 0
        self.lines: dict[Loc, int] = {}
        self.problems: list[Problem] = []

    def _problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self._source, line, message))

    def _exceeded(self, line: int, message: str) -> _Exceeded:
        return _Exceeded(Problem(self._source, line, message))

    def _count(self, count: int, line: int) -> None:
        self._nodes += count
        if self._nodes > self._bounds.nodes:
            limit = self._bounds.nodes
            raise self._exceeded(line, f"more than {limit:,} values (aliases expanded)")

    def _next_loc(self) -> Loc | None:
        if not self._stack:
            return ()
        top = self._stack[-1]
        if top.loc is None:
            return None
        if not top.is_map:
            return (*top.loc, len(top.data))
        if top.key is _NO_KEY or top.key is _SKIP:
            return None
        return (*top.loc, top.key)

    def value(self) -> Any:
        """Build the document's root value from the events (the stream is at its first node)."""
        while True:
            event = self._loader.get_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                self._open(event, line)
                continue
            if isinstance(event, yaml.ScalarEvent):
                done = self._scalar(event, line)
            elif isinstance(event, yaml.AliasEvent):
                done = self._alias(event, line)
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                done = self._close()
            else:  # pragma: no cover - the parser never emits other events inside a node
                raise yaml.YAMLError(f"unexpected {type(event).__name__}")
            if not self._stack:
                return done.data
            self._attach(done)

    def _open(self, event: Any, line: int) -> None:
        if len(self._stack) + 1 > self._bounds.depth:
            raise self._exceeded(line, f"nested deeper than {self._bounds.depth} levels")
        loc = self._next_loc()
        if loc is not None:
            self.lines[loc] = line
        start = self._nodes
        self._count(1, line)
        bad_tag = event.tag not in (None, "!", _CONTAINER_TAGS[type(event)])
        if bad_tag:
            self._problem(line, f"unsupported YAML tag {event.tag!r}")
        is_map = isinstance(event, yaml.MappingStartEvent)
        frame = _Frame(is_map, loc, line, start, event.anchor, bad_tag, {} if is_map else [])
        self._stack.append(frame)

    def _close(self) -> _Value:
        frame = self._stack.pop()
        done = _Value(
            None if frame.bad_tag else frame.data,
            self._nodes - frame.start,
            frame.height + 1,
            frame.line,
            reported=frame.bad_tag,
        )
        if frame.anchor is not None:
            self._anchors[frame.anchor] = done
        return done

    def _scalar(self, event: Any, line: int) -> _Value:
        loc = self._next_loc()
        if loc is not None:
            self.lines[loc] = line
        self._count(1, line)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        data: Any = None
        problems = len(self.problems)
        if tag == _STR:
            data = event.value
        elif tag in _SCALAR_TAGS:
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            try:
                data = self._loader.yaml_constructors[tag](self._loader, node)
            except (ValueError, OverflowError):
                self._problem(line, f"cannot read value as {tag.rpartition(':')[2]}")
        elif tag == _MERGE:
            self._problem(line, "merge keys (<<) are not supported")
        else:
            self._problem(line, f"unsupported YAML tag {tag!r}")
        done = _Value(data, 1, 0, line, reported=len(self.problems) > problems)
        if event.anchor is not None:
            self._anchors[event.anchor] = done
        return done

    def _alias(self, event: Any, line: int) -> _Value:
        self._aliases += 1
        if self._aliases > self._bounds.aliases:
            raise self._exceeded(line, f"more than {self._bounds.aliases:,} aliases")
        anchor = self._anchors.get(event.anchor or "")
        if anchor is None:
            self._problem(line, f"alias *{event.anchor} names no finished anchor")
            self._count(1, line)
            return _Value(None, 1, 0, line)
        if len(self._stack) + anchor.height > self._bounds.depth:
            raise self._exceeded(line, f"nested deeper than {self._bounds.depth} levels")
        loc = self._next_loc()
        if loc is not None:
            self.lines[loc] = line
        self._count(anchor.count, line)
        return _Value(anchor.data, anchor.count, anchor.height, line)

    def _attach(self, done: _Value) -> None:
        top = self._stack[-1]
        top.height = max(top.height, done.height)
        if not top.is_map:
            top.data.append(done.data)
            return
        if top.key is _NO_KEY:
            self._take_key(top, done)
            return
        if top.key is not _SKIP:
            top.data[top.key] = done.data
            if top.loc is not None:
                # A problem with a value is reported at its key, not at the first nested line.
                self.lines[(*top.loc, top.key)] = top.key_line
        top.key = _NO_KEY

    def _take_key(self, top: _Frame, done: _Value) -> None:
        key = done.data
        top.key, top.key_line = _SKIP, done.line
        if done.reported:
            return
        if not isinstance(key, str | int) or done.height:
            self._problem(done.line, "mapping keys must be strings")
        elif key in top.data:
            self._problem(done.line, f"duplicate key {key!r}")
        else:
            top.key = key


def build_document(
    loader: EventSource, source: str, bounds: Bounds
) -> tuple[Any, dict[Loc, int], list[Problem]]:
    """Plain data of the single document in ``loader``'s stream, its lines and its problems.

    Raises:
        yaml.YAMLError: the text is not valid YAML (marked with the line where possible).
    """
    loader.get_event()  # StreamStartEvent
    if loader.check_event(yaml.StreamEndEvent):
        return None, {}, []
    loader.get_event()  # DocumentStartEvent
    builder = _Builder(loader, source, bounds)
    try:
        data = builder.value()
    except _Exceeded as exc:
        return None, {}, [exc.problem]
    loader.get_event()  # DocumentEndEvent
    if not loader.check_event(yaml.StreamEndEvent):
        line = loader.peek_event().start_mark.line + 1
        builder.problems.append(Problem(source, line, "expected a single document in the file"))
    return data, builder.lines, builder.problems
