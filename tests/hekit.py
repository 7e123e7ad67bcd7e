"""Helpers for the homomorphic-encryption tests: caller keys, noise budgets, crafted ciphertexts.

Crafted ciphertexts are written in SEAL's uncompressed format (which SEAL loads like any other):
header (16 bytes) + parms_id (4 x u64) + is_ntt_form (u8) + size, N, k (u64 each) + scale
(f64) + correction factor (u64) + the coefficient array (its own 16-byte header, a u64 count,
then the u64 coefficients: polynomial by polynomial, prime by prime, N each). They are
structurally valid, so they pass every check the zone can make: that is the point.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import tenseal as ts
import tenseal.sealapi as sealapi

from zone.client.he import HEKeys, new_keys
from zone.products.verification.validate import load_public_context, seal_version
from zone.products.verification.wire import encode_varint
from zone.wire.he_params import CKKS_SCORE, PARAM_SETS, ParamSet

U64 = npt.NDArray[np.uint64]

BFV_TEST = ParamSet(
    name="bfv-4096",
    scheme="bfv",
    poly_modulus_degree=4096,
    coeff_mod_bit_sizes=(46, 46, 17),
    plain_modulus=67_239_937,
    scale_bits=0,
    max_ciphertext_bytes=2 * 2 * 4096 * 8 + 4096,
)
"""The BFV set Match used before issue 14: no longer allowlisted, kept to test the checks."""


@cache
def caller_keys(name: str) -> HEKeys:
    """One caller's private keys per parameter set (shared by the tests of a session)."""
    if name == BFV_TEST.name:
        context = ts.context(ts.SCHEME_TYPE.BFV, 4096, BFV_TEST.plain_modulus, [46, 46, 17])
        return HEKeys(BFV_TEST, context)
    return new_keys(name)


@cache
def zone_context(name: str) -> Any:
    """The zone's view of :func:`caller_keys`: the public context, loaded and checked."""
    keys = caller_keys(name)
    return load_public_context(keys.public_context(), keys.params)


def param_set(name: str) -> ParamSet:
    """An allowlisted set, or the test-only BFV set."""
    return BFV_TEST if name == BFV_TEST.name else PARAM_SETS[name]


def noise_budget(keys: HEKeys, vector: Any) -> int:
    """Remaining BFV noise budget in bits (needs the secret key: caller side only)."""
    decryptor = sealapi.Decryptor(keys.context.seal_context().data, keys.context.secret_key().data)
    (ciphertext,) = vector.ciphertext()
    return int(decryptor.invariant_noise_budget(ciphertext))


def coefficients(vector: Any) -> U64:
    """The ciphertext's coefficients, shape (polys, primes, N)."""
    (ct,) = vector.ciphertext()
    polys, primes, n = ct.size(), ct.coeff_modulus_size(), ct.poly_modulus_degree()
    flat = np.fromiter((ct[i] for i in range(polys * primes * n)), dtype=np.uint64)
    return flat.reshape(polys, primes, n)


def _seal_header(payload_size: int) -> bytes:
    major, minor = seal_version()
    return struct.pack("<HBBBBHQ", 0xA15E, 16, major, minor, 0, 0, 16 + payload_size)


def seal_ciphertext(parms_id: list[int], data: U64, *, ntt: bool, scale: float) -> bytes:
    """A SEAL ciphertext (uncompressed) holding ``data`` of shape (polys, primes, N)."""
    polys, primes, n = data.shape
    array = data.astype("<u8").tobytes()
    inner = _seal_header(8 + len(array)) + struct.pack("<Q", polys * primes * n) + array
    members = (
        struct.pack("<4Q", *parms_id)
        + struct.pack("<B", int(ntt))
        + struct.pack("<QQQ", polys, n, primes)
        + struct.pack("<dQ", scale, 1)
        + inner
    )
    return _seal_header(len(members)) + members


def vector_blob(ciphertext: bytes, slots: int, scale: float | None) -> bytes:
    """A TenSEAL BFVVectorProto / CKKSVectorProto around one SEAL ciphertext."""
    sizes = encode_varint(slots)
    out = b"\x0a" + encode_varint(len(sizes)) + sizes
    out += b"\x12" + encode_varint(len(ciphertext)) + ciphertext
    if scale is not None:
        out += b"\x19" + struct.pack("<d", scale)
    return out


def crafted_input(params: ParamSet, c1_constant: int) -> bytes:
    """A vector with c0 = 0 and c1 = the constant polynomial ``c1_constant``, at the first level.

    In NTT form (CKKS) a constant is the same value at every evaluation point; in coefficient
    form (BFV) it is the first coefficient.
    """
    context = zone_context(params.name).seal_context().data
    data_primes = params.coeff_modulus[: len(params.coeff_modulus) - 1]
    n = params.poly_modulus_degree
    data = np.zeros((2, len(data_primes), n), dtype=np.uint64)
    for i, prime in enumerate(data_primes):
        if params.scheme == "ckks":
            data[1, i, :] = c1_constant % prime
        else:
            data[1, i, 0] = c1_constant % prime
    ct = seal_ciphertext(
        list(context.first_parms_id()), data, ntt=params.scheme == "ckks", scale=params.scale
    )
    return vector_blob(ct, params.slot_count, params.scale if params.scheme == "ckks" else None)


def decode_ckks_polynomial(vector: Any, poly: int, scale: float) -> npt.NDArray[np.float64]:
    """Decode polynomial ``poly`` of a CKKS reply as if it were a plaintext at ``scale``.

    Builds the ciphertext ``(that polynomial, 0)`` at the reply's level and decrypts it with the
    caller's key: decryption of ``(m, 0)`` is ``m`` whatever the secret key.
    """
    keys = caller_keys(CKKS_SCORE.name)
    (ct,) = vector.ciphertext()
    data = coefficients(vector)
    crafted = np.zeros_like(data)
    crafted[0] = data[poly]
    blob = seal_ciphertext(list(ct.parms_id()), crafted, ntt=True, scale=scale)
    out = ts.ckks_vector_from(keys.context, vector_blob(blob, CKKS_SCORE.slot_count, scale))
    return np.array(out.decrypt())


def bfv_blob(values: list[int]) -> bytes:
    """A caller's encrypted BFV vector of ``values`` (padded to a full block)."""
    keys = caller_keys(BFV_TEST.name)
    padded = values + [0] * (BFV_TEST.slot_count - len(values))
    return bytes(ts.bfv_vector(keys.context, padded).serialize())
