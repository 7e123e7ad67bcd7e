"""The parameter allowlist: inside the 128-bit table, and consistent with the catalog's limits."""

from __future__ import annotations

import pytest
import tenseal.sealapi as sealapi

from zone.catalog._verification import (
    MATCH_PARAM_SET,
    MAX_CLAIM_CODE,
    MAX_TOLERANCE,
    SCORE_PARAM_SET,
)
from zone.wire.he_params import PARAM_SETS, ParamSet, within_security_table


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


@pytest.mark.parametrize("params", list(PARAM_SETS.values()), ids=list(PARAM_SETS))
def test_every_set_is_inside_the_128_bit_table(params: ParamSet) -> None:
    assert within_security_table(params)
    assert len(params.coeff_modulus) == len(params.coeff_mod_bit_sizes)
    for prime, bits in zip(params.coeff_modulus, params.coeff_mod_bit_sizes, strict=True):
        assert prime.bit_length() == bits
        assert prime % (2 * params.poly_modulus_degree) == 1


def test_a_set_above_the_table_is_recognised() -> None:
    too_big = ParamSet("x", "bfv", 4096, (40, 40, 40), 65537, 0, 1)
    assert not within_security_table(too_big)


def test_bfv_plain_modulus_batches_and_separates_every_code() -> None:
    params = PARAM_SETS[MATCH_PARAM_SET]
    p = params.plain_modulus
    assert params.scheme == "bfv" and _is_prime(p) and p % (2 * params.poly_modulus_degree) == 1
    assert sealapi.PlainModulus.Batching(params.poly_modulus_degree, 26).value() > 0
    # |claimed - recorded + offset| < p, so it is zero modulo p only when it is zero.
    assert 2 * MAX_CLAIM_CODE + MAX_TOLERANCE < p


def test_catalog_names_the_allowlisted_sets() -> None:
    assert PARAM_SETS[MATCH_PARAM_SET].scheme == "bfv"
    score = PARAM_SETS[SCORE_PARAM_SET]
    assert score.scheme == "ckks" and score.scale == 2.0**40
    assert score.slot_count == 4096 == PARAM_SETS[MATCH_PARAM_SET].slot_count
