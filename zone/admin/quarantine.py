"""Quarantined dataset versions: an administrator's correction that stops every product on them.

A quarantined version (table ``dataset_quarantine``, migration 0018) serves nothing: every
reservation for a product that reads it, statistics, training, joint jobs, Match and Score, is
refused with FAILED_PRECONDITION by :func:`zone.access.refuse_quarantined`, which the release
desk runs in the reservation's own transaction, so the refusal is exact on every replica from
the commit on and nothing is charged. Jobs already running finish under the charging rule.
Quarantine and release are audited in the same transaction as the change
(``dataset.quarantined``, ``dataset.released``) with the acting administrator as
``principal``; releasing is the undo.
Rolling back to an earlier version (``zone datasets activate``) is the other remedy.
"""

from __future__ import annotations

from dataclasses import dataclass

from zone.admin.suspensions import clean_note
from zone.audit import AuditChain, utc_timestamp
from zone.errors import FailedPrecondition
from zone.state.api import State


@dataclass(frozen=True)
class QuarantinedVersion:
    """One quarantined dataset version: when, by whom, and the administrator's note."""

    dataset: str
    version: str
    quarantined_at: str
    quarantined_by: str
    note: str


class Quarantine:
    """Quarantine, release and list dataset versions (the ``dataset_quarantine`` table)."""

    def __init__(self, store: State, audit: AuditChain) -> None:
        self._store = store
        self._audit = audit

    def quarantine(self, dataset: str, version: str, *, actor: str, note: str) -> None:
        """Take ``version`` of ``dataset`` out of service. Audited, durable.

        Raises:
            FailedPrecondition: it is already quarantined.
            InvalidArgument: the note is too long.
        """
        note = clean_note(note)
        with self._store.write() as w:
            added = w.execute(
                "INSERT INTO dataset_quarantine (dataset, version, quarantined_at, "
                "quarantined_by, note) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (dataset, version, utc_timestamp(), actor, note),
            ).rowcount
            if added != 1:
                raise FailedPrecondition(
                    "that version is already quarantined", reason="quarantined"
                )
            self._audit.append(
                "dataset.quarantined",
                {"principal": actor, "dataset": dataset, "version": version, "note": note},
                conn=w,
            )

    def release(self, dataset: str, version: str, *, actor: str, note: str) -> None:
        """Put a quarantined version back in service. Audited, durable.

        Raises:
            FailedPrecondition: it is not quarantined.
            InvalidArgument: the note is too long.
        """
        note = clean_note(note)
        with self._store.write() as w:
            removed = w.execute(
                "DELETE FROM dataset_quarantine WHERE dataset = ? AND version = ?",
                (dataset, version),
            ).rowcount
            if removed != 1:
                raise FailedPrecondition(
                    "that version is not quarantined", reason="not_quarantined"
                )
            self._audit.append(
                "dataset.released",
                {"principal": actor, "dataset": dataset, "version": version, "note": note},
                conn=w,
            )

    def all(self) -> dict[tuple[str, str], QuarantinedVersion]:
        """Every quarantined version, by (dataset, version)."""
        with self._store.read() as conn:
            rows = conn.execute(
                "SELECT dataset, version, quarantined_at, quarantined_by, note "
                "FROM dataset_quarantine ORDER BY dataset, version"
            ).fetchall()
        return {(row[0], row[1]): QuarantinedVersion(*row) for row in rows}
