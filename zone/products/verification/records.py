"""The zone's side of a verification product: its columns, held in memory, looked up by key.

A Match or Score call names up to tens of thousands of subjects; looking each up in DuckDB (or
counting it in SQLite) would cost a large part of the call (measured: about 18 ms per 4,096 keys
in DuckDB). The dataset cannot change while the
zone serves (imports need the server stopped), so the key column and the columns the product
may read are loaded once per dataset version, read-only, and subjects are looked up in a dict.

Values: claim and score columns as float64 (booleans 0/1, NULL as NaN). Keys as strings: an
integer key column is keyed by its decimal text.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from zone.catalog import VerificationProduct, table_name
from zone.catalog._fields import is_column_name
from zone.errors import InvalidArgument

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class ProductRecords:
    """The columns of one product, for one dataset version.

    Attributes:
        version: The dataset version they were read from.
        rows: Key -> row number.
        columns: Column name -> values by row number (float64, NaN for NULL).
    """

    version: str
    rows: dict[str, int]
    columns: dict[str, F64]

    @property
    def size(self) -> int:
        """One more than the largest row number (what per-row arrays need)."""
        return max(self.rows.values(), default=-1) + 1

    def lookup(self, subjects: Sequence[str]) -> I64:
        """Row numbers of ``subjects`` (-1 where the key is not in the dataset)."""
        found = map(self.rows.get, subjects, repeat(-1, len(subjects)))
        return np.fromiter(found, dtype=np.int64, count=len(subjects))

    def values(self, column: str, rows: I64) -> F64:
        """``column`` at ``rows`` (NaN where a row is -1)."""
        data = self.columns[column]
        out = np.full(len(rows), np.nan)
        found = rows >= 0
        out[found] = data[rows[found]]
        return out


def _ident(name: str) -> str:
    if not is_column_name(name):  # pragma: no cover - product loading validated the names
        raise ValueError("invalid column name")
    return f'"{name}"'


def product_columns(product: VerificationProduct) -> tuple[str, ...]:
    """The non-key columns a product reads, in a stable order."""
    names = [*product.claims, *product.score_features]
    return tuple(dict.fromkeys(name for name in names if name != product.key))


def load_records(cursor: Any, product: VerificationProduct, version: str) -> ProductRecords:
    """Read the product's key and columns from the dataset (one query, read-only cursor)."""
    columns = product_columns(product)
    selected = [f"CAST({_ident(product.key)} AS VARCHAR) AS k"]
    selected += [f"CAST({_ident(c)} AS DOUBLE) AS c{i}" for i, c in enumerate(columns)]
    sql = f"SELECT {', '.join(selected)} FROM {table_name(product.dataset)}"
    fetched = cursor.execute(sql).fetchnumpy()
    keys = np.ma.filled(fetched["k"], None).tolist() if len(fetched["k"]) else []
    rows = {str(key): i for i, key in enumerate(keys) if key is not None}
    data = {
        name: np.asarray(np.ma.filled(fetched[f"c{i}"], np.nan), dtype=np.float64)
        for i, name in enumerate(columns)
    }
    return ProductRecords(version=version, rows=rows, columns=data)


class RecordCache:
    """Loads each product's records once per dataset version and definition (thread-safe).

    A reload may redefine a product (other columns) over the same dataset version, so the
    cached records are reused only for an equal definition at the same version.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, tuple[VerificationProduct, ProductRecords]] = {}

    def get(
        self, product: VerificationProduct, version: str, cursor_factory: Any
    ) -> ProductRecords:
        """The records of ``product`` at ``version``, loading them on first use."""
        with self._lock:
            cached = self._records.get(product.id)
            if cached is not None and cached[1].version == version and cached[0] == product:
                return cached[1]
            cursor = cursor_factory()
            try:
                records = load_records(cursor, product, version)
            finally:
                cursor.close()
            self._records[product.id] = (product, records)
            return records


def check_subjects(subjects: Sequence[str], limit: int) -> str:
    """Refuse an empty or oversized list, or a malformed key; return the list as logged.

    Returns:
        The keys in request order, newline-separated (what the check log stores).

    Raises:
        InvalidArgument: what is wrong with the list (no key is echoed back).
    """
    if not subjects:
        raise InvalidArgument("name at least one subject", reason="no_subjects")
    if len(subjects) > limit:
        raise InvalidArgument(
            f"at most {limit} subjects per call for this product", reason="too_many_subjects"
        )
    text = "\n".join(subjects)
    # n keys joined by n - 1 line breaks: any other line break is inside a key; an empty key
    # shows as a doubled, leading or trailing break (or an empty text).
    if (
        text.count("\n") != len(subjects) - 1
        or not text
        or "\n\n" in text
        or text[0] == "\n"
        or text[-1] == "\n"
        or max(map(len, subjects)) > MAX_KEY_LENGTH
    ):
        raise InvalidArgument(
            f"subject keys must have 1 to {MAX_KEY_LENGTH} characters and no line breaks",
            reason="bad_subject",
        )
    return text


def check_distinct(subjects: Sequence[str], rows: I64) -> None:
    """Refuse a list that names a subject twice (``rows`` from :meth:`ProductRecords.lookup`).

    Found keys are distinct exactly when their row numbers are; keys not found are compared
    as strings (usually few).

    Raises:
        InvalidArgument: a subject is named more than once.
    """
    found = rows[rows >= 0]
    missing = [subjects[i] for i in np.flatnonzero(rows < 0).tolist()]
    if (found.size and np.bincount(found).max() > 1) or len(set(missing)) != len(missing):
        raise InvalidArgument("a subject is named more than once", reason="duplicate_subject")
