"""The snapshot in force, swapped whole: reload (policies, products, datasets) and activation.

Every call pins the snapshot in force when it starts (:meth:`ServingHolder.enter`) and keeps
it until it ends, so a reload or a dataset activation during the call changes nothing it sees:
the old snapshot's DuckDB instance is closed only when its last call is done. A new snapshot is
built and validated whole before one reference assignment puts it in force; a set that fails
validation is refused (and audited) and the running one stays.

The set a reload loads is what is on disk: ``policies/*.yaml``, ``models/*.yaml`` and the
active version of each dataset in the store's manifest. ``activate`` first validates the set
with one dataset's active version changed, then records it in the manifest, then swaps.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import zone.catalog._manifest as _manifest
from zone.catalog.versions import (
    publish_served,
    resolve_version,
    set_active,
    sweep,
    withdraw_served,
)
from zone.errors import FailedPrecondition, ValidationFailed
from zone.policy import PolicySet
from zone.serving.snapshot import Snapshot, Sources, load_snapshot

log = logging.getLogger(__name__)

_CALL_SNAPSHOT: ContextVar[Snapshot | None] = ContextVar("zone_call_snapshot", default=None)
Event = Callable[[str, dict[str, Any]], object]


@dataclass(frozen=True)
class ReloadResult:
    """Outcome of a successful reload."""

    digest: str
    previous_digest: str
    principals: int
    grants: int
    products: int
    datasets: Mapping[str, str]
    serving_digest: str


@dataclass(frozen=True)
class Activation:
    """Outcome of a dataset activation."""

    dataset: str
    version: str
    previous_version: str
    report_digest: str
    policy_digest: str


class ServingHolder:
    """The snapshot in force, its reload and dataset activation; pins for running calls."""

    def __init__(
        self,
        sources: Sources,
        on_event: Event,
        in_use: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        """Load the set in force.

        ``in_use`` gives the dataset versions queued or running training jobs read: retired
        versions other than those are dropped from disk at start and after every swap.

        Raises:
            ValidationFailed: products or policies are invalid for the active versions.
            FailedPrecondition: the dataset store is missing or damaged.
        """
        self._sources = sources
        self._on_event = on_event
        self._lock = threading.Lock()  # the reference, and pinning against retiring
        self._changing = threading.Lock()  # one reload or activation at a time
        self._in_use = in_use
        self._snapshot = load_snapshot(sources)
        self._closed = False
        self._published()

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot of the running call, else the one in force."""
        return _CALL_SNAPSHOT.get() or self._snapshot

    @property
    def digest(self) -> str:
        """The digest of the whole set in force (``Snapshot.digest``)."""
        return self._snapshot.digest

    @property
    def current(self) -> PolicySet:
        """The policy set in force."""
        return self._snapshot.policies

    def enter(self) -> Snapshot:
        """Pin the snapshot in force for the calling call (until :meth:`leave`)."""
        with self._lock:
            snapshot = self._snapshot
            snapshot.pin()
        _CALL_SNAPSHOT.set(snapshot)
        return snapshot

    def leave(self, snapshot: Snapshot) -> None:
        """The call that pinned ``snapshot`` is done."""
        _CALL_SNAPSHOT.set(None)
        snapshot.unpin()

    @contextlib.contextmanager
    def pinned(self) -> Iterator[Snapshot]:
        """Pin the snapshot in force for a block of work."""
        snapshot = self.enter()
        try:
            yield snapshot
        finally:
            self.leave(snapshot)

    def reload(self) -> ReloadResult:
        """Load policies, products and the active dataset versions; swap them in together.

        Raises:
            ValidationFailed: the new set is invalid; the running set stays in force.
            FailedPrecondition: the dataset store is damaged; the running set stays.
        """
        with self._changing:
            previous = self._snapshot
            try:
                new = load_snapshot(self._sources)
            except (ValidationFailed, FailedPrecondition) as exc:
                self._rejected("policy.reload", exc, previous)
                raise
            record = {"outcome": "ok", "digest": new.policies.digest,
                      "previous_digest": previous.policies.digest,
                      "products": sorted(new.products), "datasets": new.versions,
                      "serving_digest": new.digest}  # fmt: skip
            self._recorded_then_swapped("policy.reload", record, new)
        log.info("reloaded: policies %s, %d products, datasets %s",
                 new.policies.digest, len(new.products), new.versions)  # fmt: skip
        return ReloadResult(new.policies.digest, previous.policies.digest,
                            len(new.policies.principals), len(new.policies.grants),
                            len(new.products), new.versions, new.digest)  # fmt: skip

    def reload_digest(self) -> str:
        """:meth:`reload`, then the digest of the set in force (a following replica's reload).

        Raises:
            ValidationFailed, FailedPrecondition: as :meth:`reload`.
        """
        self.reload()
        return self.digest

    def activate(self, name: str, version: str, principal: str) -> Activation:
        """Serve ``version`` of dataset ``name`` (a kept one: rollback is activating an older).

        Raises:
            NotFound: no such dataset or version (a unique hex prefix of 8+ digits is accepted).
            FailedPrecondition: the version is retired, or the set with it is invalid (the
                running set stays and the manifest is unchanged).
        """
        with self._changing:
            previous = self._snapshot
            manifest = _manifest.read_manifest(self._sources.store)
            entry = resolve_version(manifest, name, version)
            chosen = dict(previous.versions) | {name: entry.version}
            try:
                new = load_snapshot(self._sources, chosen)
            except (ValidationFailed, FailedPrecondition) as exc:
                self._rejected("dataset.activate", exc, previous, dataset=name)
                raise
            try:
                set_active(self._sources.store, name, entry.version)
            except BaseException:
                new.datasets.close()
                raise
            was = previous.versions.get(name, "")
            record = {"dataset": name, "version": entry.version, "previous_version": was,
                      "report_digest": entry.report_digest, "principal": principal,
                      "policy_digest": new.policies.digest,
                      "serving_digest": new.digest}  # fmt: skip
            self._recorded_then_swapped("dataset.activate", record, new)
        log.info("dataset %s: serving %s (was %s)", name, entry.version, was or "none")
        return Activation(name, entry.version, was, entry.report_digest, new.policies.digest)

    def _recorded_then_swapped(self, kind: str, record: dict[str, Any], new: Snapshot) -> None:
        """Audit the change, then put ``new`` in force (an audit failure changes nothing served).

        The record is on the chain before any call can see the new set, so a call answered
        from it never precedes its reload or activation on the chain.
        """
        try:
            self._on_event(kind, record)
        except BaseException:
            new.datasets.close()
            raise
        self._swap(new)

    def _swap(self, new: Snapshot) -> None:
        with self._lock:
            old, self._snapshot = self._snapshot, new
        old.retire()
        self._published()

    def _published(self) -> None:
        """Tell administrators' commands what is served; drop retired versions nothing uses."""
        publish_served(self._sources.store, self._snapshot.versions)
        try:
            dropped = sweep(self._sources.store, self._in_use())
        except Exception:  # noqa: BLE001 - a failed clean-up must not fail a reload
            log.exception("dropping retired dataset versions failed")
            return
        if dropped:
            log.info("dropped retired dataset versions %s", dropped)

    def _rejected(
        self, kind: str, exc: ValidationFailed | FailedPrecondition, running: Snapshot, **extra: str
    ) -> None:
        problems = len(exc.problems) if isinstance(exc, ValidationFailed) else 1
        self._on_event(kind, {"outcome": "rejected", "problems": problems,
                              "running_digest": running.policies.digest, **extra})  # fmt: skip

    def close(self) -> None:
        """Stop serving: the snapshot in force closes when its last call is done."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        withdraw_served(self._sources.store)
        self._snapshot.retire()
