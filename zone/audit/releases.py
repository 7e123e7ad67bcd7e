"""The release registry: every release with its receipt and the artifact that left the zone.

A release's receipt is the ``release`` entry on the audit chain; its registry row (table
``releases``, migration 0005) is written in the same transaction, so a row exists if and only if
its receipt does. Budgeted releases reach here through ``PrivacyLedger.release(...,
artifact=...)`` (ledger settlement, receipt and row in one transaction); releases that spend no
budget (verification answers) through :meth:`ReleaseRegistry.record`.

The artifact is what the caller received, as JSON: for statistics the release dict
(``StatsRelease.to_dict()``), for training the released weights, intercept, feature names and
metrics. ``zone trace`` compares leaked files with these artifacts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zone.audit.chain import AuditChain, AuditEntry, utc_timestamp
from zone.errors import NotFound
from zone.state.api import State, Tx, execute_later
from zone.wire.jsontext import canonical_json

ReleaseKind = Literal["statistics", "training", "verification"]

RECEIPT_FIELDS = frozenset(
    {
        "release_id",
        "time",
        "principal",
        "product",
        "dataset_version",
        "policy_digest",
        "code_version",
        "epsilon_micro",
        "delta_femto",
        "output_digest",
    }
)
"""What every receipt carries (statistics, training and verification alike)."""

_COLUMNS = "release_id, audit_seq, principal, product, kind, created_at, receipt, artifact"


@dataclass(frozen=True)
class ReleasedArtifact:
    """What left the zone in one release (JSON-able), and which kind of product released it."""

    kind: ReleaseKind
    content: Mapping[str, Any]


@dataclass(frozen=True)
class ReleaseRecord:
    """One row of the release registry."""

    release_id: str
    audit_seq: int
    principal: str
    product: str
    kind: ReleaseKind
    created_at: str
    receipt: Mapping[str, Any]
    artifact: Mapping[str, Any]


def check_receipt(receipt: Mapping[str, Any]) -> None:
    """Refuse a receipt that lacks one of :data:`RECEIPT_FIELDS` (a zone bug, not a caller's).

    Raises:
        ValueError: a field is missing.
    """
    missing = sorted(RECEIPT_FIELDS - set(receipt))
    if missing:
        raise ValueError(f"receipt lacks {', '.join(missing)}")


def insert_release(conn: Tx, entry: AuditEntry, artifact: ReleasedArtifact) -> None:
    """Write the registry row of the receipt ``entry`` inside the caller's write transaction.

    Args:
        conn: The open ``store.write()`` connection that appended ``entry``.
        entry: The ``release`` audit entry holding the receipt.
        artifact: What was released.

    Raises:
        ValueError: the entry is not a complete receipt.
        sqlite3.IntegrityError: the release id is already registered (on PostgreSQL the
            INSERT rides on the transaction's next round trip, and its error fails the
            commit: either way the whole transaction rolls back).
    """
    receipt = entry.record
    if entry.kind != "release":
        raise ValueError("a registry row needs a 'release' audit entry")
    check_receipt(receipt)
    execute_later(
        conn,
        f"INSERT INTO releases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            str(receipt["release_id"]),
            entry.seq,
            str(receipt["principal"]),
            str(receipt["product"]),
            artifact.kind,
            utc_timestamp(),
            canonical_json(dict(receipt)),
            canonical_json(dict(artifact.content)),
        ),
    )


class ReleaseRegistry:
    """Records releases (receipt + artifact) and reads them back."""

    def __init__(self, store: State, audit: AuditChain) -> None:
        self._store = store
        self._audit = audit

    def record(
        self,
        receipt: Mapping[str, Any],
        artifact: ReleasedArtifact,
        *,
        conn: Tx | None = None,
    ) -> AuditEntry:
        """Append the ``release`` receipt to the audit chain and register the artifact, together.

        For releases that spend no privacy budget (budgeted ones go through
        ``PrivacyLedger.release``). Without ``conn`` both commit in one durable transaction
        (``synchronous=FULL``) before this returns; with ``conn`` they join the caller's.

        Raises:
            ValueError: the receipt lacks a required field (nothing is written).
            sqlite3.IntegrityError: the release id is already registered (nothing is written).
        """
        check_receipt(receipt)
        if conn is not None:
            return self._record(conn, receipt, artifact)
        with self._store.write() as own:
            return self._record(own, receipt, artifact)

    def _record(
        self, conn: Tx, receipt: Mapping[str, Any], artifact: ReleasedArtifact
    ) -> AuditEntry:
        entry = self._audit.append("release", dict(receipt), conn=conn)
        insert_release(conn, entry, artifact)
        return entry

    def get(self, release_id: str) -> ReleaseRecord:
        """One release.

        Raises:
            NotFound: no such release.
        """
        with self._store.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM releases WHERE release_id = ?", (release_id,)
            ).fetchone()
        if row is None:
            raise NotFound("no such release", reason="unknown_release")
        return _record_from_row(row)


def read_releases(conn: Tx) -> Iterator[ReleaseRecord]:
    """Every release readable through ``conn`` (e.g. a read-only file connection), oldest first."""
    cursor = conn.execute(f"SELECT {_COLUMNS} FROM releases ORDER BY audit_seq")
    try:
        for row in cursor:
            yield _record_from_row(row)
    finally:
        cursor.close()


def _record_from_row(row: tuple[Any, ...]) -> ReleaseRecord:
    release_id, seq, principal, product, kind, created_at, receipt, artifact = row
    return ReleaseRecord(
        release_id=str(release_id),
        audit_seq=int(seq),
        principal=str(principal),
        product=str(product),
        kind=kind,
        created_at=str(created_at),
        receipt=json.loads(receipt),
        artifact=json.loads(artifact),
    )
