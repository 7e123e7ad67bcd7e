"""Registered public keys (TenSEAL public contexts), bound to the principal that registered them.

A context is checked whole (:func:`load_public_context`) before it is stored, and stored with its
audit record (``verification.key``) in one durable transaction. Every read is by key id *and*
owner: another principal's key id answers NotFound, exactly like an unknown id, so key ids are
not an oracle. A revoked key is refused (FailedPrecondition) for its owner.

Loaded contexts are cached (least recently used first out); the stored bytes are the source of
truth, so a restart only costs a reload.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zone.access import refuse_exited
from zone.audit import AuditChain, utc_timestamp
from zone.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from zone.products.verification.validate import load_public_context
from zone.state.api import State
from zone.wire.he_params import PARAM_SETS, ParamSet

_INFO_COLUMNS = "key_id, owner, param_set, scheme, size_bytes, sha256, created_at, revoked_at"


@dataclass(frozen=True)
class KeyInfo:
    """A registered key as its owner sees it (never the context bytes)."""

    key_id: str
    owner: str
    param_set: str
    scheme: str
    size_bytes: int
    sha256: str
    created_at: str
    revoked_at: str | None


class TooManyKeys(ResourceExhausted):
    """The principal holds as many active keys as allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"at most {limit} active keys per principal: revoke one first", reason="too_many_keys"
        )
        self.violations = (("verification-keys", f"{limit} active keys allowed"),)


def read_upload(chunks: Iterable[tuple[str, bytes]], max_bytes: int) -> tuple[str, bytes]:
    """Join an uploaded context: (parameter set named by the first chunk, the bytes).

    Stops reading as soon as the total passes ``max_bytes``.

    Raises:
        InvalidArgument: no chunk, no parameter set, a later chunk naming another set, or more
            than ``max_bytes`` in all.
    """
    name = ""
    data = bytearray()
    for i, (param_set, chunk) in enumerate(chunks):
        if i == 0:
            name = param_set
        elif param_set and param_set != name:
            raise InvalidArgument(
                "only the first chunk names the parameter set", reason="bad_upload"
            )
        data += chunk
        if len(data) > max_bytes:
            raise InvalidArgument(
                f"the context is larger than the {max_bytes} bytes allowed", reason="key_too_large"
            )
    if not data or not name:
        raise InvalidArgument("send the parameter set and the context bytes", reason="bad_upload")
    return name, bytes(data)


def param_set(name: str) -> ParamSet:
    """The allowlisted set called ``name``.

    Raises:
        InvalidArgument: not in the allowlist.
    """
    params = PARAM_SETS.get(name)
    if params is None:
        allowed = ", ".join(sorted(PARAM_SETS))
        raise InvalidArgument(
            f"unknown parameter set; allowed: {allowed}", reason="params_not_allowed"
        )
    return params


class KeyStore:
    """The ``verification_keys`` table and a cache of loaded contexts."""

    def __init__(
        self, store: State, audit: AuditChain, *, max_keys: int, cache_size: int = 32
    ) -> None:
        self._store = store
        self._audit = audit
        self._max_keys = max_keys
        self._cache_size = cache_size
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def register(self, owner: str, name: str, blob: bytes, request_id: str) -> KeyInfo:
        """Check and store a public context for ``owner``; audited durably.

        Raises:
            InvalidArgument: unknown parameter set, or a context that fails the checks.
            TooManyKeys: the owner already holds the maximum of active keys.
            PermissionDenied: the owner has exited (or is exiting) the zone.
        """
        params = param_set(name)
        context = load_public_context(blob, params)
        info = KeyInfo(
            key_id=uuid.uuid4().hex,
            owner=owner,
            param_set=params.name,
            scheme=params.scheme,
            size_bytes=len(blob),
            sha256=hashlib.sha256(blob).hexdigest(),
            created_at=utc_timestamp(),
            revoked_at=None,
        )
        with self._store.write() as conn:
            refuse_exited(conn, owner)
            active = conn.execute(
                "SELECT COUNT(*) FROM verification_keys WHERE owner = ? AND revoked_at IS NULL",
                (owner,),
            ).fetchone()[0]
            if active >= self._max_keys:
                raise TooManyKeys(self._max_keys)
            conn.execute(
                f"INSERT INTO verification_keys ({_INFO_COLUMNS}, context) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*_row(info), blob),
            )
            self._audit.append(
                "verification.key", _record(info, "registered", request_id), conn=conn
            )
        self._remember(info.key_id, context)
        return info

    def describe(self, owner: str, key_id: str) -> KeyInfo:
        """One of the owner's keys.

        Raises:
            NotFound: unknown id, or another principal's key.
        """
        with self._store.read() as conn:
            row = conn.execute(
                f"SELECT {_INFO_COLUMNS} FROM verification_keys WHERE key_id = ? AND owner = ?",
                (key_id, owner),
            ).fetchone()
        if row is None:
            raise NotFound("no such key", reason="unknown_key")
        return KeyInfo(*row)

    def revoke(self, owner: str, key_id: str, request_id: str) -> KeyInfo:
        """Revoke one of the owner's keys (idempotent); audited durably.

        Raises:
            NotFound: unknown id, or another principal's key.
        """
        with self._store.write() as conn:
            updated = conn.execute(
                "UPDATE verification_keys SET revoked_at = ? "
                "WHERE key_id = ? AND owner = ? AND revoked_at IS NULL",
                (utc_timestamp(), key_id, owner),
            ).rowcount
            if updated:
                record = {
                    "key_id": key_id,
                    "principal": owner,
                    "action": "revoked",
                    "request_id": request_id,
                }
                self._audit.append("verification.key", record, conn=conn)
        with self._lock:
            self._cache.pop(key_id, None)
        return self.describe(owner, key_id)

    def erase_owned(self, owner: str, request_id: str) -> list[str]:
        """Revoke every key of ``owner`` and erase the stored contexts; return the key ids.

        For an exit: the rows stay (id, digest, dates: the audit chain names them) but the
        context bytes are overwritten with nothing, and each key's ``verification.key`` record
        says ``erased``. Idempotent: a second call erases nothing and returns no ids.
        """
        now = utc_timestamp()
        with self._store.write() as conn:
            rows = conn.execute(
                "SELECT key_id FROM verification_keys WHERE owner = ? AND length(context) > 0 "
                "ORDER BY created_at, key_id",
                (owner,),
            ).fetchall()
            erased = [str(row[0]) for row in rows]
            for key_id in erased:
                conn.execute(
                    "UPDATE verification_keys SET context = ?, "
                    "revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                    (b"", now, key_id),
                )
                record = {
                    "key_id": key_id,
                    "principal": owner,
                    "action": "erased",
                    "request_id": request_id,
                }
                self._audit.append("verification.key", record, conn=conn)
        with self._lock:
            for key_id in erased:
                self._cache.pop(key_id, None)
        return erased

    def context_for(self, owner: str, key_id: str, params: ParamSet) -> Any:
        """The loaded public context of an active key of ``owner`` made with ``params``.

        Raises:
            NotFound: unknown id, or another principal's key.
            FailedPrecondition: the key is revoked.
            InvalidArgument: the key was made with another parameter set.
        """
        info = self.describe(owner, key_id)
        if info.revoked_at is not None:
            raise FailedPrecondition("the key is revoked", reason="key_revoked")
        if info.param_set != params.name:
            raise InvalidArgument(
                f"this call needs a {params.name} key; key {key_id} is {info.param_set}",
                reason="wrong_key_type",
            )
        with self._lock:
            context = self._cache.get(key_id)
            if context is not None:
                self._cache.move_to_end(key_id)
                return context
        with self._store.read() as conn:
            (blob,) = conn.execute(
                "SELECT context FROM verification_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        context = load_public_context(bytes(blob), params)
        self._remember(key_id, context)
        return context

    def _remember(self, key_id: str, context: Any) -> None:
        with self._lock:
            self._cache[key_id] = context
            self._cache.move_to_end(key_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def _row(info: KeyInfo) -> tuple[object, ...]:
    return (
        info.key_id,
        info.owner,
        info.param_set,
        info.scheme,
        info.size_bytes,
        info.sha256,
        info.created_at,
        info.revoked_at,
    )


def _record(info: KeyInfo, action: str, request_id: str) -> dict[str, object]:
    return {
        "key_id": info.key_id,
        "principal": info.owner,
        "action": action,
        "param_set": info.param_set,
        "size_bytes": info.size_bytes,
        "sha256": info.sha256,
        "request_id": request_id,
    }
