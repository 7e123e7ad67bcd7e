from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zone.state.sqltext import MixedPlaceholders, to_psycopg


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = %s AND c = %s"),
        ("UPDATE t SET x = x + :e WHERE y = :e", "UPDATE t SET x = x + %(e)s WHERE y = %(e)s"),
        ("SELECT '?', ':no', 'it''s ?' FROM t WHERE a = ?",
         "SELECT '?', ':no', 'it''s ?' FROM t WHERE a = %s"),
        ("SELECT x::text FROM t WHERE a = :a", "SELECT x::text FROM t WHERE a = %(a)s"),
        ("SELECT 100 % 7, '5%' FROM t WHERE a = ?", "SELECT 100 %% 7, '5%%' FROM t WHERE a = %s"),
        ('SELECT "we?ird" FROM t -- a ? comment\nWHERE a = ?',
         'SELECT "we?ird" FROM t -- a ? comment\nWHERE a = %s'),
        ("SELECT json_extract(record, '$.product') = ?",
         "SELECT json_extract(record, '$.product') = %s"),
    ],
)  # fmt: skip
def test_placeholders_translate_outside_literals_only(sql: str, expected: str) -> None:
    assert to_psycopg(sql) == expected


def test_mixed_placeholders_are_refused() -> None:
    with pytest.raises(MixedPlaceholders):
        to_psycopg("SELECT ? WHERE a = :a")


_PLAIN = st.text(alphabet=st.characters(blacklist_characters="?:%'\"-"), max_size=40)


@given(_PLAIN)
def test_text_without_special_characters_is_unchanged(sql: str) -> None:
    assert to_psycopg(sql) == sql


@given(st.lists(_PLAIN, min_size=1, max_size=6))
def test_each_question_mark_becomes_one_positional_placeholder(parts: list[str]) -> None:
    assert to_psycopg("?".join(parts)) == "%s".join(parts)
