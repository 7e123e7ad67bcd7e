"""Canonical JSON (what is hashed and signed) and the strict reader of evidence documents.

Evidence documents (receipt bundles, checkpoints, leaked files given to ``zone trace``) are read
with :func:`load_strict`: an object that repeats a key is refused, since JSON readers disagree
on which of the values counts (Python keeps the last, others the first), and a document that
means two things to two verifiers is not evidence. :func:`require_fields` then refuses any
field the format does not define.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any


class MalformedEvidence(ValueError):
    """An evidence document is not well-formed (bad JSON, a repeated key, an unknown field).

    The message names the document and, where there is one, the offending key or field.
    """


def canonical_json(obj: Any) -> str:
    """Serialize ``obj`` to the one canonical JSON text that is stored and hashed.

    Keys sorted (by code point), no whitespace, non-ASCII kept as is (the text is hashed as
    UTF-8), NaN and infinities refused; numbers as Python's ``json`` writes them.

    Args:
        obj: A JSON-serializable value.

    Returns:
        The canonical JSON text.

    Raises:
        TypeError: ``obj`` holds a value JSON cannot represent.
        ValueError: ``obj`` holds NaN or an infinity, or a circular reference.
    """
    return _CANONICAL.encode(obj)


# What ``json.dumps`` builds on every call with these options; made once (it holds no state
# between calls, so threads may share it).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _unique_keys(what: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise MalformedEvidence(f"{what} repeats the key {key[:64]!r}")
            obj[key] = value
        return obj

    return build


def _no_constant(what: str) -> Callable[[str], Any]:
    def refuse(name: str) -> Any:
        raise MalformedEvidence(f"{what} holds {name}, which is not JSON")

    return refuse


def load_strict(text: str | bytes, what: str, **options: Any) -> Any:
    """Parse JSON text, refusing any object that repeats a key (at any depth).

    Args:
        text: The document.
        what: What the document is, for messages (e.g. ``"the receipt file"``).
        **options: Passed to :func:`json.loads` (e.g. ``parse_float``; ``parse_constant``
            to accept NaN and infinities, refused by default); not ``object_pairs_hook``.

    Returns:
        The parsed value.

    Raises:
        MalformedEvidence: not JSON (or nested too deep, or NaN or an infinity), or a key is
            repeated.
    """
    options.setdefault("parse_constant", _no_constant(what))
    try:
        return json.loads(text, object_pairs_hook=_unique_keys(what), **options)
    except MalformedEvidence:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeError too
        raise MalformedEvidence(f"{what} is not JSON") from exc


def require_fields(
    doc: Any, fields: Collection[str], what: str, optional: Collection[str] = ()
) -> Mapping[str, Any]:
    """Check that ``doc`` is an object with every one of ``fields`` and nothing else.

    Args:
        doc: The parsed value.
        fields: The fields the format requires.
        what: What the object is, for messages.
        optional: Fields the format allows but does not require.

    Returns:
        ``doc``, typed as a mapping.

    Raises:
        MalformedEvidence: not an object, a field is missing or one is not defined.
    """
    if not isinstance(doc, Mapping):
        raise MalformedEvidence(f"{what} is not a JSON object")
    unknown = sorted(set(doc) - set(fields) - set(optional))
    if unknown:
        raise MalformedEvidence(f"{what} has a field the format does not define: {unknown[0]!r}")
    missing = sorted(set(fields) - set(doc))
    if missing:
        raise MalformedEvidence(f"{what} lacks the field {missing[0]!r}")
    return doc


def text_field(doc: Mapping[str, Any], name: str, what: str) -> str:
    """``doc[name]``, which must be a string.

    Raises:
        MalformedEvidence: it is not.
    """
    value = doc[name]
    if not isinstance(value, str):
        raise MalformedEvidence(f"{what} field {name!r} must be text")
    return value


def int_field(doc: Mapping[str, Any], name: str, what: str, minimum: int = 0) -> int:
    """``doc[name]``, which must be an integer (not a boolean) of at least ``minimum``.

    Raises:
        MalformedEvidence: it is not.
    """
    value = doc[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise MalformedEvidence(f"{what} field {name!r} must be an integer >= {minimum}")
    return value
