"""Homomorphic-encryption helpers of the SDK for Score: keys, encoding, encryption.

Everything secret stays here, on the caller's side: :class:`HEKeys` holds the TenSEAL context
with the secret key; the zone only ever receives the public context (``public_context()``) and
features encrypted under it, and returns ciphertexts the SDK decrypts (``he_results``).

Encoding: a caller feature is clipped to its public bounds and scaled to [0, 1] (the product's
public parameters). Subjects go in blocks of ``slot_count``; every vector is padded with zeros
to a full block. Match needs no keys: ``zone.client.match``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tenseal as ts

from zone._proto import verification_pb2
from zone.wire.fresh import FreshZeros
from zone.wire.he_params import PARAM_SETS, ParamSet

UPLOAD_CHUNK_BYTES = 1024 * 1024


CALLER_PRECOMPUTE_BYTES = 8 * 1024 * 1024
"""Memory for the encryptions of zero the SDK makes ahead, per set of keys (see ``zeros``)."""


@dataclass
class HEKeys:
    """A caller's TenSEAL keys for one parameter set; ``key_id`` once registered.

    ``zeros`` holds encryptions of zero under these keys, made between calls (never while a
    call runs: ``verification.pipelined``): encrypting a block is then one plaintext addition,
    ``Enc(0) + m``, which
    is exactly how SEAL encrypts ``m`` (a fresh public-key encryption of zero plus the
    plaintext), so the ciphertexts are as fresh as before; each is used once.
    """

    params: ParamSet
    context: Any = field(repr=False)
    key_id: str = ""
    zeros: FreshZeros = field(
        default_factory=lambda: FreshZeros(CALLER_PRECOMPUTE_BYTES), repr=False, compare=False
    )

    def public_context(self) -> bytes:
        """The public context to register: no secret, relinearization or Galois keys."""
        return bytes(
            self.context.serialize(
                save_public_key=True,
                save_secret_key=False,
                save_galois_keys=False,
                save_relin_keys=False,
            )
        )

    def save(self, path: Path) -> None:
        """Write the keys, secret key included, to a file only the owner can read."""
        data = self.context.serialize(save_secret_key=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(f"{self.params.name}\n{self.key_id}\n".encode() + data)

    @classmethod
    def load(cls, path: Path) -> HEKeys:
        """Read keys written by :meth:`save`."""
        name, key_id, data = path.read_bytes().split(b"\n", 2)
        return cls(PARAM_SETS[name.decode()], ts.context_from(data), key_id.decode())


class HE:
    """``client.he``: makes keys with allowlisted parameters."""

    def new_keys(self, param_set: str = "ckks-8192") -> HEKeys:
        """Fresh keys for Score (``ckks-8192``); Match needs none.

        Raises:
            KeyError: not an allowlisted parameter set.
        """
        return new_keys(param_set)


def new_keys(param_set: str) -> HEKeys:
    """Fresh TenSEAL keys for an allowlisted parameter set (see ``HE.new_keys``)."""
    params = PARAM_SETS[param_set]
    bits = list(params.coeff_mod_bit_sizes)
    context = ts.context(ts.SCHEME_TYPE.CKKS, params.poly_modulus_degree, None, bits)
    context.global_scale = params.scale
    return HEKeys(params, context)


def upload(keys: HEKeys, chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> list[verification_pb2.KeyChunk]:
    """The RegisterKey stream: the public context in chunks, the first naming the set."""
    data = keys.public_context()
    return [
        verification_pb2.KeyChunk(
            param_set=keys.params.name if i == 0 else "", data=data[i : i + chunk_bytes]
        )
        for i in range(0, len(data), chunk_bytes)
    ]


def scaled_features(values: Sequence[float], bounds: Sequence[float]) -> list[float]:
    """Features clipped to their public bounds and scaled to [0, 1]."""
    low, high = float(bounds[0]), float(bounds[1])
    clipped = np.clip(np.asarray(values, dtype=np.float64), low, high)
    return [float(v) for v in ((clipped - low) / (high - low)).tolist()]


def encrypt_blocks(keys: HEKeys, values: Sequence[float]) -> list[bytes]:
    """One serialized ciphertext per block of ``slot_count`` values, zero-padded.

    Each block is a fresh encryption of zero under the caller's key (made ahead when
    possible, see :class:`HEKeys`) plus the block's values.
    """
    slots = keys.params.slot_count
    starts = range(0, len(values), slots)
    zeros = keys.zeros.take_ready("caller", keys.context, keys.params, len(starts))
    out = []
    for start in starts:
        block = np.zeros(slots, dtype=np.float64)
        part = np.asarray(values[start : start + slots])
        block[: len(part)] = part
        out.append(_encrypted(keys, zeros.pop() if zeros else None, block))
    return out


def _encrypted(keys: HEKeys, zero: Any | None, block: npt.NDArray[np.float64]) -> bytes:
    """``Enc(block)`` serialized: a ready encryption of zero plus the block, or made now.

    Both are SEAL's public-key encryption of the block (SEAL encrypts ``m`` as a fresh
    encryption of zero plus ``m``); made now, it skips encoding the zero vector and adding.
    """
    values = block.tolist()  # TenSEAL's C++ vector: no extra copy through numpy
    if zero is None:
        zero = ts._ts_cpp.CKKSVector(keys.context.data, values, keys.context.global_scale)
    else:
        zero.add_plain_(values)
    return bytes(zero.serialize())


def lanes_for(subjects: int, features: int, slots: int) -> int:
    """Caller features per ciphertext for a call of ``subjects`` subjects (ScoreRequest.lanes).

    As many as fit: a call of at most ``slots / 2`` subjects packs up to ``slots // subjects``
    features into each ciphertext (fewer ciphertexts to encrypt, send and multiply); larger
    calls send one feature per ciphertext.
    """
    if features < 2 or subjects > slots // 2:
        return 1
    return min(features, slots // max(1, subjects))


def encrypt_packed(keys: HEKeys, columns: Sequence[Sequence[float]], lanes: int) -> list[bytes]:
    """One serialized ciphertext per group of ``lanes`` features, each feature in its lane.

    Feature ``j`` goes to ciphertext ``j // lanes``, slots ``[(j % lanes) * W, ... + n)`` with
    ``W = slot_count // lanes`` (the zone's ``compute`` layout); the rest is zero. Each
    ciphertext is a fresh encryption of zero plus the values, as in :func:`encrypt_blocks`.
    """
    slots = keys.params.slot_count
    width = slots // lanes
    groups = range(0, len(columns), lanes)
    zeros = keys.zeros.take_ready("caller", keys.context, keys.params, len(groups))
    out = []
    for first in groups:
        block = np.zeros(slots, dtype=np.float64)
        for lane, column in enumerate(columns[first : first + lanes]):
            values = np.asarray(column, dtype=np.float64)
            if len(values) > width:
                raise ValueError(f"{len(values)} subjects do not fit a lane of {width} slots")
            block[lane * width : lane * width + len(values)] = values
        out.append(_encrypted(keys, zeros.pop() if zeros else None, block))
    return out
