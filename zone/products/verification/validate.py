"""Checking what callers send: public TenSEAL contexts and encrypted vectors.

Nothing a caller sends reaches TenSEAL's C++ parser before its protobuf envelope has been
read here (:mod:`wire`): a context that carries a secret key is refused without ever being
loaded, so the server process never holds a secret key (and never calls ``decrypt``); a
context with relinearization or Galois keys is refused too (no product needs them), as is a
symmetric one (the zone needs the caller's public key to rerandomize replies).

After loading, every property the circuits rely on is checked against the allowlisted
:class:`ParamSet`: scheme, ring degree, coefficient modulus, plain modulus or scale; for
vectors also the declared size (exactly one ciphertext of ``slot_count`` values), the SEAL
ciphertext size (2 polynomials), level (the first data level), NTT form, scale, that it is
not transparent, and that every coefficient is reduced (``is_valid_for``).

What cannot be checked: a well-formed ciphertext encrypted under another key with the same
parameters, or one whose coefficients were altered within range. Both decrypt to noise for
the caller and reveal nothing more to it; the key id binding (a key belongs to its owner) is
the only defence against mix-ups, and it is enforced by the key store.
"""

from __future__ import annotations

import struct
import tempfile
from functools import cache
from typing import Any

import tenseal as ts
import tenseal.sealapi as sealapi

from zone.errors import InvalidArgument
from zone.products.verification import wire
from zone.wire.he_params import ParamSet

_SEAL_MAGIC = 0xA15E
_SEAL_HEADER = struct.Struct("<HBBBBHQ")
_CONTEXT_FIELDS = {1: wire.LENGTH, 2: wire.LENGTH, 3: wire.LENGTH, 4: wire.VARINT}
_PUBLIC_FIELDS = {1: wire.LENGTH, 2: wire.VARINT, 3: wire.FIXED64, 4: wire.LENGTH, 5: wire.LENGTH}
_VECTOR_FIELDS = {1: wire.LENGTH, 2: wire.LENGTH, 3: wire.FIXED64}
_ASYMMETRIC = 0


def _refuse(message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(message, reason=reason)


@cache
def seal_version() -> tuple[int, int]:
    """(major, minor) of the SEAL inside TenSEAL, read from a header it writes."""
    params = sealapi.EncryptionParameters(sealapi.SCHEME_TYPE.BFV)
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/parms"
        params.save(path)
        with open(path, "rb") as saved:
            header = saved.read(_SEAL_HEADER.size)
    _, _, major, minor, _, _, _ = _SEAL_HEADER.unpack(header)
    return int(major), int(minor)


def check_seal_header(blob: bytes, what: str) -> None:
    """Refuse bytes without a SEAL header of this SEAL version declaring exactly their length.

    Raises:
        InvalidArgument: wrong magic, header size, version, compression mode, reserved bytes
            or declared size.
    """
    if len(blob) < _SEAL_HEADER.size:
        raise wire.MalformedMessage(what)
    magic, header_size, major, minor, compression, reserved, size = _SEAL_HEADER.unpack_from(blob)
    if magic != _SEAL_MAGIC or header_size != _SEAL_HEADER.size or compression > 2 or reserved:
        raise wire.MalformedMessage(what)
    if (major, minor) != seal_version() or size != len(blob):
        raise wire.MalformedMessage(what)


def _check_envelope(blob: bytes, params: ParamSet) -> None:
    """The context's protobuf envelope: public key only, asymmetric, allowed scale."""
    what = "public context"
    top = wire.parse_message(blob, _CONTEXT_FIELDS, what)
    if 3 in top:
        raise _refuse(
            "the context holds a secret key: register only the public context",
            "secret_key_context",
        )
    if wire.single(top, 4, what) not in (None, _ASYMMETRIC):
        raise _refuse(
            "symmetric contexts cannot be registered: the zone needs a public key",
            "symmetric_context",
        )
    parms, public = wire.single(top, 1, what), wire.single(top, 2, what)
    if not isinstance(parms, bytes) or not isinstance(public, bytes):
        raise wire.MalformedMessage(what)
    check_seal_header(parms, what)
    fields = wire.parse_message(public, _PUBLIC_FIELDS, what)
    public_key = wire.single(fields, 1, what)
    if not isinstance(public_key, bytes) or not public_key:
        raise _refuse("the context has no public key", "no_public_key")
    check_seal_header(public_key, what)
    if wire.single(fields, 4, what) or wire.single(fields, 5, what):
        raise _refuse(
            "the context carries relinearization or Galois keys, which no product needs: "
            "serialize it with save_relin_keys=False and save_galois_keys=False",
            "unneeded_keys",
        )
    if params.scheme == "ckks":
        scale = wire.single(fields, 3, what)
        if scale is None or wire.as_double(scale, what) != params.scale:
            raise _refuse(f"the context's scale is not 2^{params.scale_bits}", "params_not_allowed")


def _check_params(context: Any, params: ParamSet) -> None:
    parms = context.seal_context().data.key_context_data().parms()
    coeff = tuple(int(m.value()) for m in parms.coeff_modulus())
    plain = int(parms.plain_modulus().value()) if params.scheme == "bfv" else 0
    if (
        str(parms.scheme().name).lower() != params.scheme
        or int(parms.poly_modulus_degree()) != params.poly_modulus_degree
        or coeff != params.coeff_modulus
        or plain != params.plain_modulus
    ):
        raise _refuse(
            f"the context's parameters are not those of {params.name}", "params_not_allowed"
        )


def load_public_context(blob: bytes, params: ParamSet) -> Any:
    """Load a caller's public context after checking it, or refuse it.

    Args:
        blob: ``Context.serialize(save_secret_key=False, save_galois_keys=False,
            save_relin_keys=False)`` of a context made with ``params``.
        params: The allowlisted parameter set the caller says it used.

    Returns:
        The loaded public ``tenseal.Context``, with the zone's own evaluation flags.

    Raises:
        InvalidArgument: a secret key, a symmetric context, extra keys, other parameters, or
            bytes that do not parse (reason says which).
    """
    _check_envelope(blob, params)
    try:
        context = ts.context_from(blob, n_threads=1)
    except Exception:  # noqa: BLE001 - any parse failure of caller bytes is the caller's
        raise wire.MalformedMessage("public context") from None
    _check_params(context, params)
    if (
        context.is_private()
        or context.has_secret_key()
        or not context.has_public_key()
        or context.has_relin_keys()
        or context.has_galois_keys()
    ):  # pragma: no cover - the envelope checks make these unreachable
        raise _refuse("the context is not a bare public context", "not_public_context")
    context.auto_relin = False
    context.auto_rescale = True
    context.auto_mod_switch = True
    return context


def _check_vector_envelope(blob: bytes, params: ParamSet, what: str) -> None:
    fields = wire.parse_message(blob, _VECTOR_FIELDS, what)
    sizes = wire.single(fields, 1, what)
    if not isinstance(sizes, bytes) or wire.packed_varints(sizes, what) != [params.slot_count]:
        raise _refuse(
            f"{what}: expected one ciphertext of {params.slot_count} values (pad with zeros)",
            "bad_ciphertext_size",
        )
    ciphertexts = fields.get(2, [])
    if len(ciphertexts) != 1 or not isinstance(ciphertexts[0], bytes):
        raise _refuse(f"{what}: expected exactly one ciphertext", "bad_ciphertext_size")
    check_seal_header(ciphertexts[0], what)
    scale = wire.single(fields, 3, what)
    if params.scheme == "ckks":
        if scale is None or wire.as_double(scale, what) != params.scale:
            raise _refuse(f"{what}: scale must be 2^{params.scale_bits}", "bad_ciphertext")
    elif scale is not None:
        raise wire.MalformedMessage(what)


def _check_ciphertext(context: Any, params: ParamSet, vector: Any, what: str) -> None:
    seal_context = context.seal_context().data
    (ciphertext,) = vector.ciphertext()
    if (
        ciphertext.size() != 2
        or ciphertext.parms_id() != seal_context.first_parms_id()
        or ciphertext.is_ntt_form() != (params.scheme == "ckks")
        or ciphertext.scale != params.scale
        or ciphertext.is_transparent()
        or not sealapi.is_valid_for(ciphertext, seal_context)
    ):
        raise _refuse(f"{what}: not a fresh ciphertext under {params.name}", "bad_ciphertext")


def load_vector(context: Any, params: ParamSet, blob: bytes, what: str) -> Any:
    """Load one encrypted vector sent by a caller, or refuse it.

    Args:
        context: The caller's registered public context (from :func:`load_public_context`).
        params: Its parameter set.
        blob: ``BFVVector.serialize()`` or ``CKKSVector.serialize()`` of a full vector
            (``slot_count`` values).
        what: Names the vector in the error message (public text).

    Returns:
        The loaded ``BFVVector`` or ``CKKSVector`` linked to ``context``.

    Raises:
        InvalidArgument: oversized, malformed, wrong size or scale, not at the first level,
            transparent or with unreduced coefficients.
    """
    if not 0 < len(blob) <= params.max_ciphertext_bytes:
        raise _refuse(f"{what}: ciphertext size out of bounds", "bad_ciphertext_size")
    _check_vector_envelope(blob, params, what)
    load = ts.bfv_vector_from if params.scheme == "bfv" else ts.ckks_vector_from
    try:
        vector = load(context, blob)
    except Exception:  # noqa: BLE001 - any parse failure of caller bytes is the caller's
        raise wire.MalformedMessage(what) from None
    _check_ciphertext(context, params, vector, what)
    return vector
