"""Chinese registry identifier helpers used by the synthetic demo dataset.

Implements the check characters of three national standards:

* GB 32100-2015, the 18-character Unified Social Credit Code (统一社会信用代码, USCC)
  that every registered organisation in mainland China carries;
* GB 11714-1997, the 9-character organisation code embedded in positions 9-17 of a USCC;
* GB 11643-1999, the 18-character resident identity number.

The scalar functions (:func:`check_char`, :func:`is_valid`, :func:`make_code`,
:func:`resident_id_check`) are the reference API; :func:`make_codes` and
:func:`make_resident_ids` are vectorised equivalents used to generate large
synthetic tables quickly. Everything here is pure computation on synthetic data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "ALPHABET",
    "check_char",
    "is_valid",
    "make_code",
    "make_codes",
    "make_resident_ids",
    "org_check_char",
    "resident_id_check",
    "resident_id_is_valid",
]

#: The 31 characters allowed in a USCC (GB 32100: digits and capitals without I, O, Z, S, V).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: GB 32100 weights for positions 1-17 (3**i mod 31).
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

#: GB 11714 weights for the 8 body characters of an organisation code.
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

#: GB 11643 weights for the first 17 digits of a resident identity number.
RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

#: GB 11643 check characters indexed by ``sum % 11``.
RESIDENT_CHECK = "10X98765432"

_USCC_VALUE = {c: i for i, c in enumerate(ALPHABET)}

# Byte-indexed lookup tables for the vectorised paths (-1 marks an invalid character).
_USCC_LUT = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(ALPHABET):
    _USCC_LUT[ord(_c)] = _i
_ORG_LUT = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    _ORG_LUT[ord(_c)] = _i
_ALPHABET_BYTES = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
_ORG_CHECK_BYTES = np.frombuffer(b"0123456789X0", dtype=np.uint8)  # index = 11 - sum % 11
_RESIDENT_CHECK_BYTES = np.frombuffer(RESIDENT_CHECK.encode("ascii"), dtype=np.uint8)
_DIGIT_BYTES = np.frombuffer(b"0123456789", dtype=np.uint8)
# Characters drawn for the free part of a new-style ("MA...") organisation code.
_NEW_STYLE_BYTES = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRTUWXY", dtype=np.uint8)


def _org_value(char: str) -> int:
    """Return the GB 11714 value of one character (0-9 -> 0-9, A-Z -> 10-35)."""
    if len(char) == 1 and char.isascii() and char.isdigit():
        return int(char)
    if len(char) == 1 and "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    raise ValueError(f"invalid organisation code character: {char!r}")


def org_check_char(first8: str) -> str:
    """Compute the GB 11714 check character of a 9-character organisation code.

    Args:
        first8: The 8 body characters (digits or capital letters).

    Returns:
        The check character: a digit or ``"X"``.

    Raises:
        ValueError: If ``first8`` is not 8 characters of ``0-9A-Z``.
    """
    if len(first8) != 8:
        raise ValueError(f"organisation code body must be 8 characters, got {len(first8)}")
    total = sum(_org_value(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def check_char(first17: str) -> str:
    """Compute the GB 32100-2015 check character (18th character) of a USCC.

    Args:
        first17: The first 17 characters of the code, drawn from :data:`ALPHABET`.

    Returns:
        The check character, one of :data:`ALPHABET`.

    Raises:
        ValueError: If ``first17`` has the wrong length or a character outside the alphabet.
    """
    if len(first17) != 17:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    try:
        total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"invalid USCC character: {exc.args[0]!r}") from None
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """Tell whether ``code`` is a well-formed USCC with a correct check character.

    Checks the length, the alphabet, that the 6-character division code is numeric and
    the GB 32100 check character. The embedded organisation code's GB 11714 check is
    deliberately not enforced: the standard only requires the final check character,
    and some genuinely issued codes carry organisation codes that do not satisfy it.

    Args:
        code: Candidate code.

    Returns:
        ``True`` if the code is valid.
    """
    if not isinstance(code, str) or len(code) != 18:
        return False
    if any(c not in _USCC_VALUE for c in code) or not code[2:8].isdigit():
        return False
    return check_char(code[:17]) == code[17]


def _as_byte_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """View an array of fixed-width ASCII strings as an ``(n, width)`` uint8 matrix."""
    fixed = np.ascontiguousarray(np.asarray(values).astype(f"S{width}"))
    return fixed.view(np.uint8).reshape(len(fixed), width)


def _uscc_check_bytes(first17: np.ndarray) -> np.ndarray:
    """Vectorised GB 32100 check characters for an ``(n, 17)`` uint8 matrix."""
    values = _USCC_LUT[first17]
    if (values < 0).any():
        raise ValueError("invalid USCC character in input")
    total = values @ np.asarray(USCC_WEIGHTS, dtype=np.int64)
    return _ALPHABET_BYTES[(31 - total % 31) % 31]


def _org_check_bytes(first8: np.ndarray) -> np.ndarray:
    """Vectorised GB 11714 check characters for an ``(n, 8)`` uint8 matrix."""
    values = _ORG_LUT[first8]
    total = values @ np.asarray(ORG_WEIGHTS, dtype=np.int64)
    return _ORG_CHECK_BYTES[11 - total % 11]


def make_codes(
    rng: np.random.Generator,
    district_codes: Sequence[str] | np.ndarray,
    *,
    entity_types: Sequence[str] | np.ndarray | None = None,
    new_style: Sequence[bool] | np.ndarray | None = None,
) -> np.ndarray:
    """Generate realistic, valid USCCs in bulk.

    Layout (GB 32100): registration authority ``9`` (industry and commerce), entity type,
    6-digit administrative division code, 9-character organisation code whose last
    character is its GB 11714 check, and the GB 32100 check character.

    Args:
        rng: Random generator; the output is a deterministic function of its state.
        district_codes: 6-digit administrative division code for each code to generate.
        entity_types: Optional entity type character per code (``"1"`` enterprise,
            ``"2"`` individual business, ``"3"`` farmers' cooperative). Drawn at random
            (mostly ``"1"``) when omitted.
        new_style: Optional flag per code: ``True`` gives a post-2015 organisation code
            beginning with ``"MA"``, ``False`` a legacy all-digit code. Drawn at random
            when omitted.

    Returns:
        A numpy array of 18-character Python strings (dtype ``<U18``).

    Raises:
        ValueError: If a division code is not 6 digits or an entity type is invalid.
    """
    districts = np.asarray(district_codes, dtype=str)
    n = len(districts)
    if n == 0:
        return np.empty(0, dtype="<U18")
    division = _as_byte_matrix(districts, 6)
    if (np.char.str_len(districts) != 6).any() or not np.isin(division, _DIGIT_BYTES).all():
        raise ValueError("district codes must be 6-digit administrative division codes")

    if entity_types is None:
        types = rng.choice(np.frombuffer(b"123", dtype=np.uint8), size=n, p=[0.94, 0.04, 0.02])
    else:
        types = _as_byte_matrix(np.asarray(entity_types, dtype=str), 1)[:, 0]
        if not np.isin(types, np.frombuffer(b"123", dtype=np.uint8)).all():
            raise ValueError("entity types must be '1', '2' or '3'")
    style = rng.random(n) < 0.5 if new_style is None else np.asarray(new_style, dtype=bool).copy()

    # Draw both variants for every row so the random stream does not depend on the mix.
    legacy = _DIGIT_BYTES[rng.integers(0, 10, size=(n, 8))]
    legacy[:, 0] = _DIGIT_BYTES[rng.integers(1, 8, size=n)]  # old codes rarely start 0/8/9
    modern = _NEW_STYLE_BYTES[rng.integers(0, len(_NEW_STYLE_BYTES), size=(n, 8))]
    modern[:, 0] = ord("M")
    modern[:, 1] = ord("A")
    org_body = np.where(style[:, None], modern, legacy)

    out = np.empty((n, 18), dtype=np.uint8)
    out[:, 0] = ord("9")
    out[:, 1] = types
    out[:, 2:8] = division
    out[:, 8:16] = org_body
    out[:, 16] = _org_check_bytes(org_body)
    out[:, 17] = _uscc_check_bytes(out[:, :17])
    return out.view("S18").ravel().astype("<U18")


def make_code(rng: np.random.Generator, district_code: str) -> str:
    """Generate one realistic, valid USCC for an enterprise registered in a district.

    Args:
        rng: Random generator.
        district_code: 6-digit administrative division code of the registering district.

    Returns:
        An 18-character code for which :func:`is_valid` is ``True`` and whose embedded
        organisation code carries a correct GB 11714 check character.
    """
    return str(make_codes(rng, [district_code])[0])


def resident_id_check(first17: str) -> str:
    """Compute the GB 11643-1999 check character of an 18-digit resident identity number.

    Args:
        first17: The first 17 digits (6-digit address code, 8-digit birth date,
            3-digit sequence number).

    Returns:
        The check character: a digit or ``"X"``.

    Raises:
        ValueError: If ``first17`` is not 17 ASCII digits.
    """
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("expected 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_WEIGHTS, strict=True))
    return RESIDENT_CHECK[total % 11]


def resident_id_is_valid(number: str) -> bool:
    """Tell whether an 18-character resident identity number has a correct check character.

    Args:
        number: Candidate number.

    Returns:
        ``True`` if the first 17 characters are digits and the check character matches.
    """
    if not isinstance(number, str) or len(number) != 18:
        return False
    head = number[:17]
    if not (head.isascii() and head.isdigit()):
        return False
    return resident_id_check(head) == number[17]


def make_resident_ids(
    rng: np.random.Generator,
    address_codes: Sequence[str] | np.ndarray,
    birth_dates: np.ndarray,
) -> np.ndarray:
    """Generate valid 18-character resident identity numbers in bulk.

    Args:
        rng: Random generator used for the 3-digit sequence numbers.
        address_codes: 6-digit address (administrative division) code per person.
        birth_dates: ``datetime64[D]`` birth date per person.

    Returns:
        A numpy array of 18-character Python strings (dtype ``<U18``).
    """
    addresses = _as_byte_matrix(np.asarray(address_codes, dtype=str), 6)
    n = len(addresses)
    dates = np.asarray(birth_dates, dtype="datetime64[D]")
    birth = _as_byte_matrix(np.datetime_as_string(dates, unit="D"), 10)
    sequence = rng.integers(1, 1000, size=n)

    out = np.empty((n, 18), dtype=np.uint8)
    out[:, 0:6] = addresses
    out[:, 6:10] = birth[:, 0:4]  # YYYY
    out[:, 10:12] = birth[:, 5:7]  # MM
    out[:, 12:14] = birth[:, 8:10]  # DD
    out[:, 14] = _DIGIT_BYTES[sequence // 100]
    out[:, 15] = _DIGIT_BYTES[sequence // 10 % 10]
    out[:, 16] = _DIGIT_BYTES[sequence % 10]
    digits = out[:, :17].astype(np.int64) - ord("0")
    out[:, 17] = _RESIDENT_CHECK_BYTES[(digits @ np.asarray(RESIDENT_WEIGHTS, dtype=np.int64)) % 11]
    return out.view("S18").ravel().astype("<U18")
