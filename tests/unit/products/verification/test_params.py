"""The parameter allowlist: inside the 128-bit table, CKKS for Score only (Match is an OPRF)."""

from __future__ import annotations

import pytest

from zone.catalog._verification import MATCH_PROTOCOL, MAX_CLAIM_CODE, SCORE_PARAM_SET
from zone.wire.he_params import PARAM_SETS, ParamSet, within_security_table
from zone.wire.oprf import MAX_CODE


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


def test_only_the_scoring_set_is_allowlisted() -> None:
    assert list(PARAM_SETS) == [SCORE_PARAM_SET]
    score = PARAM_SETS[SCORE_PARAM_SET]
    assert score.scheme == "ckks" and score.scale == 2.0**40 and score.slot_count == 4096
    assert not any(p.scheme == "bfv" for p in PARAM_SETS.values())  # issue 14


def test_match_compares_every_code_a_float_holds_exactly() -> None:
    assert MATCH_PROTOCOL == "oprf-ristretto255-sha512"
    assert MAX_CLAIM_CODE == MAX_CODE == 2**53
