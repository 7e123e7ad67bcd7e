"""Audit chain entries as they travel: the stored fields and the entry hash.

An entry ``n`` has ``seq`` (1, 2, 3, ...), a timestamp ``ts``, a ``kind``, its record as
canonical JSON text ``record_json``, the previous entry's hash ``prev_hash`` (``GENESIS_HASH``
for the first) and its own hash (:func:`entry_hash`). docs/EVIDENCE.md gives the bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from json.encoder import encode_basestring

from zone.wire.jsontext import canonical_json

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""

HASH_DOMAIN = "zone.audit.v1"
"""Domain separation tag hashed in front of every entry."""


def entry_hash(prev_hash: str, seq: int, ts: str, kind: str, record_json: str) -> str:
    """Return the SHA-256 hex digest of one entry.

    The hash input is the UTF-8 of the canonical JSON array
    ``["zone.audit.v1", prev_hash, seq, ts, kind, record_json]``, where ``record_json`` is the
    record's canonical JSON *text*, embedded as a JSON string (so escaped once more). Every
    field is delimited and escaped: no content can move from one field into another without
    changing the digest.

    Args:
        prev_hash: Hash of the previous entry (``GENESIS_HASH`` for seq 1).
        seq: Sequence number, from 1.
        ts: Timestamp text as stored.
        kind: Entry kind as stored.
        record_json: The record's canonical JSON text as stored.

    Returns:
        64 lowercase hex characters.
    """
    fields = (prev_hash, ts, kind, record_json)
    if type(seq) is int and all(type(field) is str for field in fields):
        # The canonical JSON array written out: the same text (json writes a str with
        # encode_basestring and an int with int.__repr__; tests/unit/wire/test_entries.py
        # compares the two) without building an encoder per entry.
        text = encode_basestring
        payload = (
            f"[{_DOMAIN_JSON},{text(prev_hash)},{int.__repr__(seq)},{text(ts)},{text(kind)},"
            f"{text(record_json)}]"
        )
    else:
        payload = canonical_json([HASH_DOMAIN, prev_hash, seq, ts, kind, record_json])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_DOMAIN_JSON = encode_basestring(HASH_DOMAIN)


@dataclass(frozen=True)
class StoredEntry:
    """An audit entry exactly as stored (the record as its canonical JSON text)."""

    seq: int
    ts: str
    kind: str
    record_json: str
    prev_hash: str
    hash: str
