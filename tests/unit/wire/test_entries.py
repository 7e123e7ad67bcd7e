"""The entry hash: its written-out payload is exactly the canonical JSON array it specifies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone.wire.entries import HASH_DOMAIN, entry_hash
from zone.wire.jsontext import canonical_json

# Any text, with JSON's escapes and characters json writes unescaped (ensure_ascii=False).
text = st.text(
    alphabet=st.characters()
    | st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "é", "\ud800"])
)


def specified(prev_hash: object, seq: object, ts: object, kind: object, record: object) -> str:
    """The hash as docs/EVIDENCE.md specifies it, through the canonical JSON encoder."""
    payload = canonical_json([HASH_DOMAIN, prev_hash, seq, ts, kind, record])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def outcome(hash_entry: Callable[..., str], *fields: object) -> object:
    """The digest, or the type of error (lone surrogates are not UTF-8)."""
    try:
        return hash_entry(*fields)
    except (TypeError, ValueError) as exc:
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(prev_hash=text, seq=st.integers(), ts=text, kind=text, record=text)
def test_the_written_out_payload_hashes_like_the_canonical_array(
    prev_hash: str, seq: int, ts: str, kind: str, record: str
) -> None:
    fields = (prev_hash, seq, ts, kind, record)
    assert outcome(entry_hash, *fields) == outcome(specified, *fields)


def test_other_types_hash_as_json_writes_them() -> None:
    class Kind(str):
        pass

    for seq in (True, 3.0, 2**70):
        assert entry_hash("p", seq, "t", "k", "{}") == specified("p", seq, "t", "k", "{}")  # type: ignore[arg-type]
    assert entry_hash("p", 1, "t", Kind("k"), "{}") == specified("p", 1, "t", "k", "{}")
    with pytest.raises(TypeError):
        entry_hash("p", 1, "t", b"k", "{}")  # type: ignore[arg-type]
