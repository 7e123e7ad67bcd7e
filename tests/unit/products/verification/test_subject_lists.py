"""Subject lists: shape checks, the logged text, duplicates (found and not found), lookups."""

from __future__ import annotations

import numpy as np
import pytest

from zone.errors import InvalidArgument
from zone.products.verification.records import (
    MAX_KEY_LENGTH,
    ProductRecords,
    check_distinct,
    check_subjects,
)

RECORDS = ProductRecords("v1", {"A": 0, "B": 1, "C": 2}, {"x": np.array([1.0, np.nan, 3.0])})


def test_a_good_list_is_returned_as_logged() -> None:
    assert check_subjects(["A", "X" * MAX_KEY_LENGTH, "B"], 3) == f"A\n{'X' * MAX_KEY_LENGTH}\nB"
    assert check_subjects(["only"], 1) == "only"


@pytest.mark.parametrize(
    ("subjects", "reason"),
    [
        ([], "no_subjects"),
        (["A", "B", "C", "D"], "too_many_subjects"),
        ([""], "bad_subject"),
        (["", "A"], "bad_subject"),
        (["A", ""], "bad_subject"),
        (["A", "", "B"], "bad_subject"),
        (["A\nB"], "bad_subject"),
        (["A", "B\n"], "bad_subject"),
        (["\nA"], "bad_subject"),
        (["A", "X" * (MAX_KEY_LENGTH + 1)], "bad_subject"),
    ],
)
def test_malformed_lists_are_refused(subjects: list[str], reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_subjects(subjects, 3)
    assert caught.value.reason == reason
    assert all(s not in str(caught.value) for s in subjects if s)  # no key echoed back


@pytest.mark.parametrize(
    "subjects",
    [["A", "B", "A"], ["Q", "C", "Q"], ["B", "Q", "R", "B"]],
)
def test_a_subject_named_twice_is_refused_found_or_not(subjects: list[str]) -> None:
    rows = RECORDS.lookup(subjects)
    with pytest.raises(InvalidArgument) as caught:
        check_distinct(subjects, rows)
    assert caught.value.reason == "duplicate_subject"


def test_distinct_lists_pass_and_lookup_marks_unknown_keys() -> None:
    subjects = ["C", "Q", "A", "R"]
    rows = RECORDS.lookup(subjects)
    assert rows.tolist() == [2, -1, 0, -1]
    check_distinct(subjects, rows)
    check_distinct(["Q"], RECORDS.lookup(["Q"]))
    assert np.isnan(RECORDS.values("x", rows)[[1, 3]]).all()
