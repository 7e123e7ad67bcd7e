"""A Match call's columns: checked before admission, evaluated for the admitted subjects only,
filler where a consent was refused, statuses by membership mode."""

from __future__ import annotations

import numpy as np
import pytest

from zone.catalog import VerificationProduct
from zone.errors import InvalidArgument
from zone.products.verification import matching
from zone.products.verification.pet import BadBlindedElement
from zone.products.verification.records import ProductRecords
from zone.products.verification.replies import BlindedClaim
from zone.products.verification.workers import MatchWorkers
from zone.wire.oprf import IDENTITY, blind_claims, read_matches, reply_bytes
from zone.wire.replies import CONSENT_REFUSED, FOUND, NOT_FOUND, UNDISCLOSED

PRODUCT = VerificationProduct.model_validate(
    {"id": "capital-match", "kind": "verification", "dataset": "enterprises",
     "description": "d", "key": "uscc",
     "claims": {"employees": {"tolerance": 1},
                "registered_capital": {"tolerance": 0, "unit": 0.01}}}
)  # fmt: skip
SUBJECTS = ("a", "b", "c", "unknown")
RECORDS = ProductRecords(
    "v1", {"a": 0, "b": 1, "c": 2},
    {"employees": np.array([10.0, 20.0, np.nan]), "registered_capital": np.array([1.5, 2.0, 3.0])},
)  # fmt: skip


def blinded(codes: list[int]) -> tuple[BlindedClaim, object]:
    secrets = blind_claims(PRODUCT.id, "employees", 1.0, SUBJECTS, codes)
    return BlindedClaim("employees", secrets.elements), secrets


def test_only_admitted_subjects_are_evaluated_and_refused_ones_get_filler() -> None:
    claim, secrets = blinded([11, 20, 0, 5])  # a within 1, b exact, c NULL, unknown
    batches = matching.claim_batches(PRODUCT, [claim], SUBJECTS)
    rows = RECORDS.lookup(SUBJECTS)
    checked = np.array([True, False, True, True])
    (answer,) = matching.evaluate(MatchWorkers(None, 0), b"s" * 64, batches, RECORDS, rows, checked)
    assert answer.tolerance == 1 and len(answer.evaluations) == reply_bytes(4, 1)
    matches = read_matches(secrets, answer.evaluations, 1)  # type: ignore[arg-type]
    assert matches == [True, False, False, False]  # b was refused: filler, though it would match
    everyone = matching.evaluate(MatchWorkers(None, 0), b"s" * 64, batches, RECORDS, rows,
                                 np.ones(4, bool))  # fmt: skip
    assert read_matches(secrets, everyone[0].evaluations, 1) == [True, True, False, False]  # type: ignore[arg-type]


def test_statuses_follow_membership_and_consent() -> None:
    rows = RECORDS.lookup(SUBJECTS)
    checked = np.array([True, True, False, True])
    disclosed = matching.statuses(rows, checked, "disclosed").tolist()
    assert disclosed == [FOUND, FOUND, CONSENT_REFUSED, NOT_FOUND]
    hidden = matching.statuses(rows, checked, "hidden").tolist()
    assert hidden == [UNDISCLOSED, UNDISCLOSED, CONSENT_REFUSED, UNDISCLOSED]


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ([], InvalidArgument),
        ([BlindedClaim("employees", b""), BlindedClaim("employees", b"")], InvalidArgument),
        ([BlindedClaim("tax_paid", b"")], InvalidArgument),
        ([BlindedClaim("employees", IDENTITY * 4)], BadBlindedElement),
        ([BlindedClaim("employees", b"\x01" * 127)], BadBlindedElement),
    ],
    ids=["none", "twice", "not-a-claim", "identity", "short"],
)
def test_columns_and_elements_are_checked_before_anything_else(
    claims: list[BlindedClaim], error: type[Exception]
) -> None:
    with pytest.raises(error):
        matching.claim_batches(PRODUCT, claims, SUBJECTS)
    assert matching.reply_size(
        matching.claim_batches(PRODUCT, [blinded([1] * 4)[0]], SUBJECTS)
    ) == (reply_bytes(4, 1))
