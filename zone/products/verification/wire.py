"""A strict reader of the protobuf wire format, for TenSEAL's serialized contexts and vectors.

TenSEAL wraps SEAL objects in small protobuf messages (``TenSEALContextProto``,
``BFVVectorProto``, ``CKKSVectorProto``). The zone reads them here, in Python, before any of
their bytes reach TenSEAL's C++ parser: which fields are present (a secret key, Galois keys),
how many ciphertexts a vector claims to hold and its declared sizes are checked first, because
TenSEAL itself trusts them (a vector whose ``sizes`` disagree with its ciphertexts is accepted).

Only what those messages use is supported: varint (0), 64-bit (1) and length-delimited (2)
fields. Unknown field numbers, unexpected wire types, groups, truncated or over-long varints
and trailing bytes are all errors.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from zone.errors import InvalidArgument

VARINT = 0
FIXED64 = 1
LENGTH = 2

Value = int | bytes


class MalformedMessage(InvalidArgument):
    """The bytes are not a well-formed message of the expected type."""

    def __init__(self, what: str) -> None:
        super().__init__(f"malformed {what}", reason="malformed_he_object")


def read_varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    """Decode one varint at ``pos``: (value, next position).

    Raises:
        MalformedMessage: truncated, or longer than 10 bytes.
    """
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise MalformedMessage(what)
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value >= 1 << 64:
                raise MalformedMessage(what)
            return value, pos
    raise MalformedMessage(what)


def parse_message(data: bytes, fields: Mapping[int, int], what: str) -> dict[int, list[Value]]:
    """Split a message into its fields: field number -> values in order of appearance.

    Args:
        data: The serialized message.
        fields: Allowed field numbers and the wire type each must have.
        what: The message's name, for the error.

    Returns:
        Varint fields as ints, 64-bit fields as 8 raw bytes, length-delimited ones as bytes.

    Raises:
        MalformedMessage: anything outside ``fields``, or bytes that do not parse.
    """
    out: dict[int, list[Value]] = {}
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos, what)
        number, wire_type = key >> 3, key & 7
        if fields.get(number) != wire_type:
            raise MalformedMessage(what)
        value: Value
        if wire_type == VARINT:
            value, pos = read_varint(data, pos, what)
        elif wire_type == FIXED64:
            value, pos = data[pos : pos + 8], pos + 8
            if len(value) != 8:
                raise MalformedMessage(what)
        else:
            length, pos = read_varint(data, pos, what)
            if length > len(data) - pos:
                raise MalformedMessage(what)
            value, pos = data[pos : pos + length], pos + length
        out.setdefault(number, []).append(value)
    return out


def packed_varints(data: bytes, what: str) -> list[int]:
    """The values of a packed repeated varint field.

    Raises:
        MalformedMessage: the bytes do not parse.
    """
    values = []
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos, what)
        values.append(value)
    return values


def as_double(raw: Value, what: str) -> float:
    """A 64-bit field as a little-endian IEEE double."""
    if not isinstance(raw, bytes) or len(raw) != 8:
        raise MalformedMessage(what)
    value: float = struct.unpack("<d", raw)[0]
    return value


def single(fields: Mapping[int, list[Value]], number: int, what: str) -> Value | None:
    """The one value of a singular field (None when absent); a repeated occurrence is an error."""
    values = fields.get(number, [])
    if len(values) > 1:
        raise MalformedMessage(what)
    return values[0] if values else None


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer as a varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
