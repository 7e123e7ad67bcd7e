"""The zone's model registry: trained models kept inside the zone (``keep_in_zone`` products).

A kept model never leaves the zone; later verification and scoring calls use it by id. Each
model comes from one job (at most one model per job) and is saved with its ``model.saved``
audit record in one durable transaction, or in the caller's transaction (``conn=``), e.g. with
the job's move to ``succeeded``.

An administrator can revoke a kept model (table ``model_revocations``, migration 0010) and
restore it; a revoked model reads as missing to :meth:`ModelRegistry.get_model`, so scoring with
it is refused like scoring with an unknown id. Both acts are audited with the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zone.audit import AuditChain, utc_timestamp
from zone.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from zone.jobs.records import check_limit, encode_object, frozen_json, select_job
from zone.state.api import State, Tx

MODEL_COLUMNS = "model_id, owner, product, job_id, created_at, model, metrics"
MODEL_KEYS = ("family", "features", "weights", "intercept", "scaling")
"""Keys every registered model holds (what scoring needs to rebuild it)."""


@dataclass(frozen=True)
class ModelRecord:
    """A model kept in the zone's registry; ``model`` and ``metrics`` are read-only JSON."""

    model_id: str
    owner: str
    product: str
    job_id: str
    created_at: str
    model: Mapping[str, Any] = field(hash=False)
    metrics: Mapping[str, Any] = field(hash=False)


def check_model(model: Mapping[str, Any]) -> None:
    """Refuse a model that lacks a key scoring needs.

    Raises:
        InvalidArgument: A key of ``MODEL_KEYS`` is missing (all missing keys are named).
    """
    missing = [key for key in MODEL_KEYS if key not in model]
    if missing:
        raise InvalidArgument(f"model lacks required key(s): {', '.join(missing)}")


def model_from_row(row: tuple[Any, ...]) -> ModelRecord:
    """Build a ``ModelRecord`` from a row selected with ``MODEL_COLUMNS``."""
    model_id, owner, product, job_id, created_at, model, metrics = row
    return ModelRecord(
        model_id=str(model_id),
        owner=str(owner),
        product=str(product),
        job_id=str(job_id),
        created_at=str(created_at),
        model=frozen_json(model),
        metrics=frozen_json(metrics),
    )


class ModelRegistry:
    """Save and read kept models (the ``models`` table)."""

    def __init__(self, store: State, audit: AuditChain) -> None:
        self._store = store
        self._audit = audit

    def save_model(
        self,
        *,
        owner: str,
        product: str,
        job_id: str,
        model: Mapping[str, Any],
        metrics: Mapping[str, Any],
        conn: Tx | None = None,
    ) -> str:
        """Keep a trained model in the zone's registry, audited (``model.saved``), durably.

        Args:
            owner: The principal the model belongs to.
            product: The training product that made it.
            job_id: The job that made it (one model per job).
            model: ``family``, ``features``, ``weights``, ``intercept``, ``scaling`` and more.
            metrics: The (DP) metrics released with it.
            conn: The caller's open write connection, e.g. to commit with the job's transition.

        Returns:
            The new model id (a random UUID4 in hex).

        Raises:
            InvalidArgument: ``model`` lacks a required key, or either is not a JSON object.
            NotFound: No such job.
            AlreadyExists: The job has a model already.
        """
        model_json = encode_object(model, "model")
        metrics_json = encode_object(metrics, "model metrics")
        check_model(model)
        model_id = uuid.uuid4().hex
        with self._store.joined(conn) as w:
            select_job(w, job_id)
            if w.execute("SELECT 1 FROM models WHERE job_id = ?", (job_id,)).fetchone():
                raise AlreadyExists("the job has a model already")
            w.execute(
                f"INSERT INTO models ({MODEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (model_id, owner, product, job_id, utc_timestamp(), model_json, metrics_json),
            )
            record = {
                "model_id": model_id,
                "principal": owner,
                "product": product,
                "job_id": job_id,
            }
            self._audit.append("model.saved", record, conn=w)
        return model_id

    def get_model(self, model_id: str) -> ModelRecord:
        """Return one registered model.

        Raises:
            NotFound: No such model.
        """
        with self._store.read() as r:
            row = r.execute(
                f"SELECT {MODEL_COLUMNS} FROM models WHERE model_id = ?", (model_id,)
            ).fetchone()
            revoked = r.execute(
                "SELECT 1 FROM model_revocations WHERE model_id = ?", (model_id,)
            ).fetchone()
        if row is None:
            raise NotFound("no such model")
        if revoked is not None:
            raise NotFound("no such model", reason="model_revoked")
        return model_from_row(row)

    def revoke(self, model_id: str, *, actor: str, note: str) -> None:
        """Revoke a kept model: it can no longer be used. Audited (``model.revoked``), durable.

        Raises:
            NotFound: no such model.
            FailedPrecondition: the model is revoked already.
        """
        with self._store.write() as w:
            owner = self._owner(w, model_id)
            added = w.execute(
                "INSERT INTO model_revocations (model_id, revoked_at, revoked_by, note) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (model_id, utc_timestamp(), actor, note),
            ).rowcount
            if added != 1:
                raise FailedPrecondition("the model is revoked already", reason="revoked")
            record = {"principal": actor, "model_id": model_id, "owner": owner, "note": note}
            self._audit.append("model.revoked", record, conn=w)

    def restore(self, model_id: str, *, actor: str, note: str) -> None:
        """Undo a revocation. Audited (``model.restored``), durable.

        Raises:
            NotFound: no such model.
            FailedPrecondition: the model is not revoked.
        """
        with self._store.write() as w:
            owner = self._owner(w, model_id)
            removed = w.execute(
                "DELETE FROM model_revocations WHERE model_id = ?", (model_id,)
            ).rowcount
            if removed != 1:
                raise FailedPrecondition("the model is not revoked", reason="not_revoked")
            record = {"principal": actor, "model_id": model_id, "owner": owner, "note": note}
            self._audit.append("model.restored", record, conn=w)

    def revoked(self) -> set[str]:
        """The ids of every revoked model."""
        with self._store.read() as r:
            return {row[0] for row in r.execute("SELECT model_id FROM model_revocations")}

    @staticmethod
    def _owner(conn: Tx, model_id: str) -> str:
        row = conn.execute("SELECT owner FROM models WHERE model_id = ?", (model_id,)).fetchone()
        if row is None:
            raise NotFound("no such model")
        return str(row[0])

    def list_models(self, owner: str, limit: int = 100) -> list[ModelRecord]:
        """Return the models of one owner, newest first.

        Raises:
            InvalidArgument: ``limit`` is not between 1 and 1000.
        """
        check_limit(limit)
        with self._store.read() as r:
            rows = r.execute(
                f"SELECT {MODEL_COLUMNS} FROM models WHERE owner = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
        return [model_from_row(row) for row in rows]
