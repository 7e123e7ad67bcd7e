"""Views that resolve to the snapshot of the running call, for services built once at start.

The product services are constructed once by the composition root with a ``products`` mapping
and a ``DatasetCatalog``; these views give them the products and dataset versions of the
snapshot the current call pinned (``ServingHolder.enter``), or of the snapshot in force outside
a call. Their signatures stay as they are, and every call still sees one consistent set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import duckdb

from zone.catalog import DatasetCatalog, DatasetInfo, Product
from zone.serving.holder import ServingHolder


class LiveProducts(Mapping[str, Product]):
    """The products of the call's snapshot."""

    def __init__(self, holder: ServingHolder) -> None:
        self._holder = holder

    def __getitem__(self, product_id: str) -> Product:
        return self._holder.snapshot.products[product_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._holder.snapshot.products)

    def __len__(self) -> int:
        return len(self._holder.snapshot.products)


class LiveCatalog(DatasetCatalog):
    """The dataset versions of the call's snapshot.

    A subclass so that services typed against ``DatasetCatalog`` take it unchanged; it holds
    no connection of its own (``close`` is the holder's business).
    """

    def __init__(self, holder: ServingHolder) -> None:  # noqa: D107 - no connection of its own
        self._holder = holder

    def datasets(self) -> Mapping[str, DatasetInfo]:
        """Every dataset of the call's snapshot, sorted by name."""
        return self._holder.snapshot.datasets.datasets()

    def get(self, name: str) -> DatasetInfo:
        """The served version of dataset ``name``.

        Raises:
            NotFound: no such dataset.
        """
        return self._holder.snapshot.datasets.get(name)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the call's snapshot (its DuckDB instance stays open until the call ends)."""
        return self._holder.snapshot.datasets.cursor()

    def close(self) -> None:
        """Nothing to close here: snapshots are closed by the holder."""
