"""Match as an oblivious PRF over ristretto255: what the caller and the zone both compute.

A claim is a point of the group: ``H1(x) = from_hash(SHA-512(TAG || x))`` with ``x`` the
length-prefixed product id, claim field, unit, subject key and canonical claimed value
(:func:`claim_input`). The caller sends ``B = a * H1(x)`` for a fresh random ``a`` (uniform in
the group whatever ``x`` is); the zone answers ``E = k * B`` with a key ``k`` of its own for
this call, subject and field, and the set of tags ``H2(w, k * H1(w))`` for every value ``w`` in
the recorded value's tolerance window. The caller unblinds ``U = a^-1 * E = k * H1(x)`` and
reports a match iff ``H2(x, U)`` is one of the tags. This is the 2HashDH OPRF (Jarecki,
Kiayias, Krawczyk, ASIACRYPT 2014; the ``OPRF`` mode of RFC 9497, whose ``Finalize`` hashes the
input with the unblinded element the same way); see docs/SECURITY.md ("Match against a
malicious caller") for the argument. Group: ristretto255 (RFC 9496) through libsodium, bundled
by ``rbcl``.

Wire sizes: a blinded or evaluated element is :data:`ELEMENT_BYTES` bytes (canonical
ristretto255 encoding); a tag is :data:`TAG_BYTES` bytes. A reply holds, per element in
request order, ``E`` then its ``2t + 1`` tags sorted bytewise (:func:`reply_bytes`).

Encoding of values: Match compares integer *codes* ``value / unit`` (the product's public
unit; integer and float claim columns). The canonical value is the code's decimal text
(ASCII, ``-`` for negatives, no leading zeros, ``0`` for zero), so ``7``, ``7.0`` and
``0.07`` at unit ``0.01`` all encode as ``b"7"`` when the unit says so. The unit itself is
bound into the input (as ``float.hex``), so a caller working from another unit gets no match
instead of a wrong one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import math
import operator
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import SupportsIndex

import rbcl


def _remove_sodium_copy() -> None:
    """Delete the copy of libsodium that importing rbcl wrote to the temp folder.

    rbcl 1.1.2 writes its bundled libsodium (2.7 MB) to a new temporary file at every import
    and never removes it: every zone, worker and client process left one behind (142 files in
    one run of the test suite; 18 GB on a development machine in a day). The library is
    loaded (mapped) by then, so the file is no longer needed.
    """
    # the package rebinds the name ``_sodium`` to the loaded library: ask for the module
    path = getattr(importlib.import_module("rbcl._sodium"), "lib_path", None)
    if isinstance(path, str):
        with contextlib.suppress(OSError):
            os.unlink(path)


_remove_sodium_copy()

ELEMENT_BYTES = 32
"""A canonical ristretto255 encoding."""
SCALAR_BYTES = 32
TAG_BYTES = 16
"""A tag: the first 16 bytes of ``H2`` (false-match chance 2^-128 per tag)."""
HASH_TO_GROUP_TAG = b"zone.verification.match.oprf.v1.hash-to-group"
FINALIZE_TAG = b"zone.verification.match.oprf.v1.finalize"
IDENTITY = bytes(ELEMENT_BYTES)
MAX_CODE = 2**53
"""Largest ``|value / unit|`` a claim may have: beyond it float64 values are not all whole."""
_WHOLE = 1e-9  # relative slack for float rounding in value / unit (float64 error ~2e-16)


class InvalidElement(ValueError):
    """A group element from the other side is malformed; ``index`` is its position."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(f"element {index}: {problem}")
        self.index = index
        self.problem = problem

    def __reduce__(self) -> tuple[type[InvalidElement], tuple[int, str]]:
        return type(self), (self.index, self.problem)


class CodeOutOfRange(ValueError):
    """A value is not a whole number of units within ``+-MAX_CODE`` (never rounded)."""


def _prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def value_code(value: float | int, unit: float) -> int:
    """The integer code ``value / unit`` of a claimed or recorded value.

    Raises:
        CodeOutOfRange: ``value`` is not finite, not a whole number of units (up to float
            rounding), or ``|code| > MAX_CODE``. Rounding could turn a wrong claim into a
            match, so nothing is rounded.
    """
    if isinstance(value, bool) or not (math.isfinite(unit) and unit > 0):
        raise CodeOutOfRange(f"cannot encode {value!r} at unit {unit!r}")
    if isinstance(value, int) and unit == 1.0:
        code = value
    else:
        scaled = float(value) / unit
        if not math.isfinite(scaled) or abs(scaled) > MAX_CODE:
            raise CodeOutOfRange(f"{value!r} is beyond +-{MAX_CODE} units of {unit:g}")
        code = round(scaled)
        if abs(scaled - code) > _WHOLE * max(1.0, abs(scaled)):
            raise CodeOutOfRange(f"{value!r} is not a whole number of units of {unit:g}")
    if abs(code) > MAX_CODE:
        raise CodeOutOfRange(f"{value!r} is beyond +-{MAX_CODE} units of {unit:g}")
    return code


def canonical_code(code: SupportsIndex) -> bytes:
    """The canonical encoding of an integer code: its decimal text in ASCII.

    Raises:
        TypeError: ``code`` is not an integer (``bool`` included: ``True`` is not a code).
    """
    if isinstance(code, bool):
        raise TypeError("a code is an integer, not a bool")
    return str(operator.index(code)).encode("ascii")


def claim_input(product: str, claim: str, unit: float, subject: str, code: SupportsIndex) -> bytes:
    """The OPRF input ``x``: every part length-prefixed, strings in UTF-8."""
    parts = (product.encode(), claim.encode(), float(unit).hex().encode(), subject.encode())
    return b"".join(map(_prefixed, parts)) + _prefixed(canonical_code(code))


def hash_to_group(x: bytes) -> bytes:
    """``H1(x)``: a ristretto255 element (RFC 9496 one-way map of 64 hash bytes)."""
    return bytes(
        rbcl.crypto_core_ristretto255_from_hash(hashlib.sha512(HASH_TO_GROUP_TAG + x).digest())
    )


def finalize(x: bytes, element: bytes) -> bytes:
    """``H2(x, element)``: the tag of input ``x`` whose evaluation is ``element``."""
    digest = hashlib.sha512(FINALIZE_TAG + _prefixed(x) + element).digest()
    return digest[:TAG_BYTES]


def element_problem(data: bytes) -> str | None:
    """What is wrong with a received element, or ``None`` when it is acceptable.

    Acceptable: 32 bytes, the canonical encoding of a ristretto255 element, not the identity.
    libsodium's decoder ignores the top bit of the last byte (a second encoding of every
    element), so that bit is checked here.
    """
    if not isinstance(data, bytes) or len(data) != ELEMENT_BYTES:
        return f"must be {ELEMENT_BYTES} bytes"
    if data == IDENTITY:
        return "the identity element is not accepted"
    if data[-1] & 0x80 or not rbcl.crypto_core_ristretto255_is_valid_point(data):
        return "not a canonical ristretto255 encoding"
    return None


def check_elements(blob: bytes, count: int) -> list[bytes]:
    """Split ``count`` concatenated elements and check each.

    Raises:
        InvalidElement: the wrong total length (index -1), or the first bad element.
    """
    if not isinstance(blob, bytes) or len(blob) != count * ELEMENT_BYTES:
        raise InvalidElement(-1, f"expected {count} elements of {ELEMENT_BYTES} bytes")
    elements = [blob[i : i + ELEMENT_BYTES] for i in range(0, len(blob), ELEMENT_BYTES)]
    for index, element in enumerate(elements):
        problem = element_problem(element)
        if problem is not None:
            raise InvalidElement(index, problem)
    return elements


def window_size(tolerance: int) -> int:
    """Tags per element: the ``2t + 1`` codes within ``tolerance`` of the recorded code."""
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    return 2 * tolerance + 1


def reply_bytes(count: int, tolerance: int) -> int:
    """The size of a reply to ``count`` elements: per element ``E`` and its tags."""
    return count * (ELEMENT_BYTES + window_size(tolerance) * TAG_BYTES)


# --- the caller's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Blinded:
    """A caller's blinded claims: ``elements`` is sent, the rest never leaves the caller.

    Attributes:
        inputs: The OPRF input of each claim (needed to finalize).
        scalars: The blinding scalar ``a`` of each claim (secret).
        elements: ``a * H1(x)`` for each claim, concatenated (what the request carries).
    """

    inputs: tuple[bytes, ...] = field(repr=False)
    scalars: tuple[bytes, ...] = field(repr=False)
    elements: bytes = field(repr=False)


def blind(x: bytes) -> tuple[bytes, bytes]:
    """A fresh scalar ``a`` (non-zero) and ``B = a * H1(x)``, uniform in the group."""
    scalar = bytes(rbcl.crypto_core_ristretto255_scalar_random())
    return scalar, bytes(rbcl.crypto_scalarmult_ristretto255(scalar, hash_to_group(x)))


def unblind(scalar: bytes, evaluated: bytes) -> bytes:
    """``a^-1 * E``: ``k * H1(x)`` when ``E = k * B``."""
    inverse = rbcl.crypto_core_ristretto255_scalar_invert(scalar)
    return bytes(rbcl.crypto_scalarmult_ristretto255(inverse, evaluated))


def blind_claims(
    product: str, claim: str, unit: float, subjects: Sequence[str], codes: Sequence[int]
) -> Blinded:
    """Blind one claim per subject (``codes[i]`` is claimed of ``subjects[i]``).

    Raises:
        ValueError: ``subjects`` and ``codes`` differ in length.
    """
    if len(subjects) != len(codes):
        raise ValueError("one code per subject is needed")
    inputs = tuple(
        claim_input(product, claim, unit, s, c) for s, c in zip(subjects, codes, strict=True)
    )
    pairs = [blind(x) for x in inputs]
    return Blinded(inputs, tuple(a for a, _ in pairs), b"".join(b for _, b in pairs))


def split_reply(reply: bytes, count: int, tolerance: int) -> list[tuple[bytes, frozenset[bytes]]]:
    """Per element ``(E, tags)`` from a reply (see the module docstring for the layout).

    Raises:
        InvalidElement: the wrong length, or an ``E`` that is not a valid element.
    """
    if len(reply) != reply_bytes(count, tolerance):
        raise InvalidElement(
            -1, f"a reply to {count} elements is {reply_bytes(count, tolerance)} bytes"
        )
    width = window_size(tolerance)
    step = ELEMENT_BYTES + width * TAG_BYTES
    out = []
    for index in range(count):
        chunk = reply[index * step : (index + 1) * step]
        evaluated = chunk[:ELEMENT_BYTES]
        problem = element_problem(evaluated)
        if problem is not None:
            raise InvalidElement(index, problem)
        tags = chunk[ELEMENT_BYTES:]
        out.append(
            (evaluated, frozenset(tags[i : i + TAG_BYTES] for i in range(0, len(tags), TAG_BYTES)))
        )
    return out


def read_matches(blinded: Blinded, reply: bytes, tolerance: int) -> list[bool]:
    """Match or no match per claim: ``H2(x, a^-1 * E)`` among the element's tags.

    Raises:
        InvalidElement: a malformed reply.
    """
    parts = split_reply(reply, len(blinded.scalars), tolerance)
    return [
        finalize(x, unblind(a, evaluated)) in tags
        for x, a, (evaluated, tags) in zip(blinded.inputs, blinded.scalars, parts, strict=True)
    ]
