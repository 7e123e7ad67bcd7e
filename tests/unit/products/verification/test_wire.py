"""The strict protobuf reader used before any caller bytes reach TenSEAL."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone.products.verification import wire

FIELDS = {1: wire.LENGTH, 2: wire.VARINT, 3: wire.FIXED64}


def test_reads_each_wire_type() -> None:
    data = b"\x0a\x03abc" + b"\x10" + wire.encode_varint(300) + b"\x19" + bytes(range(8))
    fields = wire.parse_message(data, FIELDS, "m")
    assert fields == {1: [b"abc"], 2: [300], 3: [bytes(range(8))]}
    assert wire.single(fields, 2, "m") == 300 and wire.single(fields, 9, "m") is None


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\x05abc",  # length past the end
        b"\x10\xff",  # truncated varint
        b"\x10" + b"\xff" * 10 + b"\x01",  # varint longer than 10 bytes
        b"\x20\x01",  # unknown field 4
        b"\x08\x01",  # field 1 with the wrong wire type
        b"\x0b",  # group start
        b"\x19\x00\x00",  # truncated 64-bit field
    ],
)
def test_refuses_malformed_messages(data: bytes) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.parse_message(data, FIELDS, "m")


def test_repeated_singular_field_is_refused() -> None:
    fields = wire.parse_message(b"\x10\x01\x10\x02", FIELDS, "m")
    with pytest.raises(wire.MalformedMessage):
        wire.single(fields, 2, "m")


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varints_round_trip(value: int) -> None:
    assert wire.read_varint(wire.encode_varint(value), 0, "v") == (
        value,
        len(wire.encode_varint(value)),
    )
    assert wire.packed_varints(wire.encode_varint(value) * 2, "v") == [value, value]


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_random_bytes_parse_or_are_refused(data: bytes) -> None:
    try:
        wire.parse_message(data, FIELDS, "m")
    except wire.MalformedMessage:
        pass
