"""The core's SQL text, translated for psycopg: ``?`` and ``:name`` placeholders, ``%`` escaped.

The core writes SQL with SQLite's placeholders (``?`` positional, ``:name`` named; see
``zone.state.api``). psycopg wants ``%s`` and ``%(name)s`` and reads every other ``%`` as the
start of a placeholder, inside string literals too. Quoted literals, quoted identifiers,
``--`` comments and PostgreSQL's ``::`` casts are copied unchanged apart from that escaping.
"""

from __future__ import annotations

import re
from functools import lru_cache

_TOKENS = re.compile(
    r"""'(?:[^']|'')*'?"""  # a string literal ('' escapes a quote)
    r"""|"(?:[^"]|"")*"?"""  # a quoted identifier
    r"|--[^\n]*"  # a comment
    r"|::"  # a cast, not a named placeholder
    r"|\?"  # a positional placeholder
    r"|:([A-Za-z_][A-Za-z0-9_]*)"  # a named placeholder
    r"|%"  # a literal percent sign
)


class MixedPlaceholders(ValueError):
    """One statement uses both ``?`` and ``:name`` placeholders."""


@lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """Translate one statement with parameters to psycopg's placeholder syntax.

    Args:
        sql: A statement with ``?`` or ``:name`` placeholders (not both).

    Returns:
        The statement with ``%s`` / ``%(name)s`` placeholders and every other ``%`` doubled.

    Raises:
        MixedPlaceholders: the statement mixes positional and named placeholders.
    """
    kinds: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            kinds.add("positional")
            return "%s"
        if match.group(1) is not None:
            kinds.add("named")
            return f"%({match.group(1)})s"
        return token.replace("%", "%%")

    translated = _TOKENS.sub(replace, sql)
    if len(kinds) > 1:
        raise MixedPlaceholders(f"a statement mixes ? and :name placeholders: {sql[:80]!r}")
    return translated
