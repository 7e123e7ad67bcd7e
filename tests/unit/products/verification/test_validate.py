"""Checking callers' public contexts and ciphertexts: every refusal names its reason."""

from __future__ import annotations

import struct
from collections.abc import Callable

import hekit
import pytest
import tenseal as ts

from zone.errors import InvalidArgument
from zone.products.verification.validate import load_public_context, load_vector
from zone.wire.he_params import CKKS_SCORE, ParamSet

BFV_MATCH = hekit.BFV_TEST  # no longer allowlisted: the checks still refuse what is not CKKS


def reason_of(call: Callable[[], object]) -> str:
    with pytest.raises(InvalidArgument) as caught:
        call()
    return caught.value.reason


def bfv(**overrides: object) -> ts.Context:
    args = {"poly_modulus_degree": 4096, "plain_modulus": BFV_MATCH.plain_modulus,
            "coeff_mod_bit_sizes": [46, 46, 17], "n_threads": 1}  # fmt: skip
    args.update(overrides)
    return ts.context(ts.SCHEME_TYPE.BFV, **args)


def public(context: ts.Context, **keys: bool) -> bytes:
    flags = {"save_secret_key": False, "save_relin_keys": False, "save_galois_keys": False}
    flags.update(keys)
    return bytes(context.serialize(**flags))


def test_allowlisted_public_contexts_load_without_any_secret() -> None:
    for name in (BFV_MATCH.name, CKKS_SCORE.name):
        context = hekit.zone_context(name)
        assert context.is_public() and not context.is_private()
        assert not context.has_secret_key() and context.has_public_key()
        assert not context.has_relin_keys() and not context.has_galois_keys()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: public(bfv(), save_secret_key=True), "secret_key_context"),
        (lambda: public(bfv(), save_relin_keys=True), "unneeded_keys"),
        (lambda: public(bfv(), save_galois_keys=True), "unneeded_keys"),
        (lambda: public(bfv(plain_modulus=1032193)), "params_not_allowed"),
        (lambda: public(bfv(coeff_mod_bit_sizes=[36, 36, 37])), "params_not_allowed"),
        (
            lambda: public(bfv(poly_modulus_degree=8192, coeff_mod_bit_sizes=[])),
            "params_not_allowed",
        ),
        (
            lambda: public(bfv(encryption_type=ts.ENCRYPTION_TYPE.SYMMETRIC)),
            "symmetric_context",
        ),
        (lambda: b"", "malformed_he_object"),
        (lambda: b"\x0a\x02\x00", "malformed_he_object"),
    ],
    ids=[
        "secret",
        "relin",
        "galois",
        "plain-modulus",
        "coeff-modulus",
        "degree",
        "symmetric",
        "empty",
        "truncated",
    ],  # fmt: skip
)
def test_bfv_contexts_outside_the_allowlist_are_refused(
    make: Callable[[], bytes], reason: str
) -> None:
    if reason == "unneeded_keys":
        bfv_context = bfv()
        bfv_context.generate_galois_keys()
        blob = public(bfv_context, save_relin_keys=True, save_galois_keys=True)
    else:
        blob = make()
    assert reason_of(lambda: load_public_context(blob, BFV_MATCH)) == reason


def test_ckks_context_with_another_scale_or_scheme_is_refused() -> None:
    ckks = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 40, 60], n_threads=1)
    ckks.global_scale = 2.0**30
    assert reason_of(lambda: load_public_context(public(ckks), CKKS_SCORE)) == "params_not_allowed"
    bfv_blob = hekit.caller_keys(BFV_MATCH.name).public_context()
    assert reason_of(lambda: load_public_context(bfv_blob, CKKS_SCORE)) == "params_not_allowed"


def test_a_context_without_public_key_is_refused() -> None:
    blob = bytes(bfv().serialize(save_public_key=False, save_secret_key=False,
                                 save_relin_keys=False, save_galois_keys=False))  # fmt: skip
    assert reason_of(lambda: load_public_context(blob, BFV_MATCH)) == "no_public_key"


def test_fresh_full_vectors_load() -> None:
    blob = hekit.bfv_blob([1, 2, 3])
    vector = load_vector(hekit.zone_context(BFV_MATCH.name), BFV_MATCH, blob, "v")
    assert vector.size() == BFV_MATCH.slot_count


def _ckks_vector(values: list[float]) -> bytes:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    return bytes(ts.ckks_vector(keys.context, values).serialize())


@pytest.mark.parametrize(
    ("params", "make", "reason"),
    [
        (
            BFV_MATCH,
            lambda: bytes(
                ts.bfv_vector(hekit.caller_keys(BFV_MATCH.name).context, [1, 2]).serialize()
            ),
            "bad_ciphertext_size",
        ),
        (BFV_MATCH, lambda: hekit.bfv_blob([1])[:-10], "malformed_he_object"),
        (BFV_MATCH, lambda: hekit.bfv_blob([1]) + b"\x12\x00", "bad_ciphertext_size"),
        (BFV_MATCH, lambda: _ckks_vector([0.5] * 4096), "bad_ciphertext_size"),
        (CKKS_SCORE, lambda: hekit.bfv_blob([1]), "bad_ciphertext"),
        (
            CKKS_SCORE,
            lambda: _ckks_vector([0.5] * 4096)[:-8] + struct.pack("<d", 2.0**30),
            "bad_ciphertext",
        ),
        (BFV_MATCH, lambda: b"x" * (BFV_MATCH.max_ciphertext_bytes + 1), "bad_ciphertext_size"),
    ],
    ids=[
        "short-vector",
        "truncated",
        "two-ciphertexts",
        "ckks-as-bfv",
        "bfv-as-ckks",
        "other-scale",
        "oversized",
    ],  # fmt: skip
)
def test_bad_vectors_are_refused(params: ParamSet, make: Callable[[], bytes], reason: str) -> None:
    context = hekit.zone_context(params.name)
    assert reason_of(lambda: load_vector(context, params, make(), "v")) == reason


def test_vectors_not_fresh_are_refused() -> None:
    keys = hekit.caller_keys(CKKS_SCORE.name)
    rescaled = ts.ckks_vector(keys.context, [0.5] * 4096) * ([2.0] * 4096)  # one level down
    context = hekit.zone_context(CKKS_SCORE.name)
    blob = bytes(rescaled.serialize())
    assert reason_of(lambda: load_vector(context, CKKS_SCORE, blob, "v")) in (
        "bad_ciphertext",
        "malformed_he_object",
    )
    bfv_keys = hekit.caller_keys(BFV_MATCH.name)
    bfv_keys.context.auto_relin = False
    try:
        vector = ts.bfv_vector(bfv_keys.context, [3] * 4096)
        size3 = bytes((vector * vector).serialize())  # three polynomials: not relinearized
    finally:
        bfv_keys.context.auto_relin = True
    bfv_context = hekit.zone_context(BFV_MATCH.name)
    assert reason_of(lambda: load_vector(bfv_context, BFV_MATCH, size3, "v")) in (
        "bad_ciphertext",
        "bad_ciphertext_size",  # three polynomials do not fit the size bound of two
    )


def test_transparent_ciphertext_is_refused() -> None:
    transparent = hekit.crafted_input(BFV_MATCH, 0)
    context = hekit.zone_context(BFV_MATCH.name)
    assert reason_of(lambda: load_vector(context, BFV_MATCH, transparent, "v")) == "bad_ciphertext"
    crafted = hekit.crafted_input(BFV_MATCH, 1)  # structurally valid: it is accepted
    assert load_vector(context, BFV_MATCH, crafted, "v").size() == BFV_MATCH.slot_count
