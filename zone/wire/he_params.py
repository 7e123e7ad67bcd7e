"""The parameter allowlist: the only homomorphic-encryption parameters the zone accepts.

Every set lies inside the 128-bit classical-security table of the HomomorphicEncryption.org
standard (largest total coefficient modulus per ring degree, ternary secrets): a caller's
context with any other ring degree, coefficient modulus, plain modulus or scale is refused.

* ``ckks-8192`` (Score): CKKS, N = 8192, coefficient modulus 60 + 40 + 40 + 60 = 200 bits
  (table maximum 218), scale 2^40. Feature-major scoring multiplies by plaintexts only, so the
  context carries a public key and nothing else (no Galois or relinearization keys).

Match needs no homomorphic encryption (it is an oblivious PRF, ``zone.wire.oprf``): the BFV set
it used was removed with it (issue 14: a caller holding its BFV secret key could read the
zone's masks out of a reply's noise). :class:`ParamSet` still describes either scheme: the
checks compare a context's scheme too, so a BFV context sent as ``ckks-8192`` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import tenseal.sealapi as sealapi

Scheme = Literal["bfv", "ckks"]

MAX_LOG_Q_128: dict[int, int] = {1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881}
"""HomomorphicEncryption.org 128-bit classical security: ring degree -> max total log2 q."""


@dataclass(frozen=True)
class ParamSet:
    """One allowlisted parameter set.

    Attributes:
        name: How callers and products name it.
        scheme: ``bfv`` or ``ckks``.
        poly_modulus_degree: The ring degree N.
        coeff_mod_bit_sizes: Bit sizes of the coefficient modulus primes (SEAL picks the primes
            deterministically from them; :attr:`coeff_modulus` holds the values).
        plain_modulus: BFV plain modulus (0 for CKKS).
        scale_bits: CKKS scale as a power of two (0 for BFV).
        max_ciphertext_bytes: Largest serialized vector accepted (an uncompressed fresh
            ciphertext plus headers): anything larger is refused before parsing.
    """

    name: str
    scheme: Scheme
    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    plain_modulus: int
    scale_bits: int
    max_ciphertext_bytes: int

    @cached_property
    def coeff_modulus(self) -> tuple[int, ...]:
        """The coefficient modulus primes SEAL generates for these bit sizes."""
        primes = sealapi.CoeffModulus.Create(
            self.poly_modulus_degree, list(self.coeff_mod_bit_sizes)
        )
        return tuple(int(p.value()) for p in primes)

    @property
    def slot_count(self) -> int:
        """Values per ciphertext: N for BFV batching, N/2 for CKKS."""
        return self.poly_modulus_degree if self.scheme == "bfv" else self.poly_modulus_degree // 2

    @property
    def scale(self) -> float:
        """The CKKS scale (1.0 for BFV, as SEAL reports it)."""
        return float(2**self.scale_bits) if self.scheme == "ckks" else 1.0

    @property
    def log_q(self) -> int:
        """Total bit size of the coefficient modulus (what the security table bounds)."""
        return sum(self.coeff_mod_bit_sizes)

    def describe(self) -> dict[str, object]:
        """JSON-able public description (catalog, SDK)."""
        return {
            "name": self.name,
            "scheme": self.scheme,
            "poly_modulus_degree": self.poly_modulus_degree,
            "coeff_mod_bit_sizes": list(self.coeff_mod_bit_sizes),
            "plain_modulus": self.plain_modulus,
            "scale_bits": self.scale_bits,
        }


CKKS_SCORE = ParamSet(
    name="ckks-8192",
    scheme="ckks",
    poly_modulus_degree=8192,
    coeff_mod_bit_sizes=(60, 40, 40, 60),
    plain_modulus=0,
    scale_bits=40,
    max_ciphertext_bytes=2 * 3 * 8192 * 8 + 4096,
)

PARAM_SETS: dict[str, ParamSet] = {p.name: p for p in (CKKS_SCORE,)}
"""The allowlist, by name."""


def within_security_table(params: ParamSet) -> bool:
    """Whether ``params`` is inside the 128-bit table (checked for every set by the tests)."""
    limit = MAX_LOG_Q_128.get(params.poly_modulus_degree)
    return limit is not None and params.log_q <= limit
