"""Abuse limits: checks per subject in a sliding window, and the per-model scoring budget.

Per principal, product and kind (match or score), a subject may be checked at most
``checks_per_subject`` times in any ``window_hours``-long window; per product and kind, by all
principals together, at most ``zone_checks_per_subject`` times (default: the same number), so
that N colluding grant holders do not get N windows per subject. The record is the
``verification_checks`` log (one row per admitted call, with the subject keys it checked);
counting a call's subjects in SQLite row by row would cost more than the work itself (measured
about 2.5 us per subject upserted), so the counts are kept in memory per (principal, product,
kind) and per (product, kind) for the zone-wide window, rebuilt from the log on first use, and
changed only after the log row has committed.

What is counted: the subjects a call *checks*, that is those named and admitted by consent (a
subject whose consent is refused gets nothing computed, so it uses no window). Of those,
subjects in the dataset always count; subjects not in the dataset count only when
``count_unknown`` (products with ``membership: hidden``, where a refusal for a known subject
but not an unknown one would reveal membership; they are counted by key). Otherwise they are
logged but not counted (their answer, NOT_FOUND, cannot change).

Atomicity: :meth:`CheckLimiter.admitting` holds one lock per limiter from the check to the
count update, and :meth:`WindowGate.take` checks and writes the log row inside the caller's
admission transaction, so two concurrent calls cannot both pass a limit; a refused call (by the
window or by anything else in the transaction) writes nothing and changes no count. The log
row commits before any computation starts; a call that then fails stays counted (the check may
have been computed).

Replicas (several processes on one PostgreSQL state): inside the admission transaction,
before checking, :meth:`WindowGate.take` first counts the log rows other processes wrote since
its windows last looked (``check_id`` greater than the highest one counted; usually none).
Every write transaction holds the cluster-wide write lock (``zone.state.postgres``), so no
other replica logs a check between that catch-up and the commit: the windows are exact across
replicas (tests/contract/test_window_contract.py), at the cost of one indexed query per window
per admission.

The scoring budget is a single counter per (principal, product, model), raised by a
conditional UPDATE in the same transaction as the log row.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from zone.errors import ResourceExhausted
from zone.products.verification.records import ProductRecords
from zone.state.api import State, Tx

I64 = npt.NDArray[np.int64]
Kind = Literal["match", "score"]


@dataclass(frozen=True)
class CheckLog:
    """The log row of one call: who checked whom, when and why."""

    request_id: str
    release_id: str
    principal: str
    product: str
    kind: Kind
    purpose: str
    subjects_text: str
    """The subject keys in request order, newline-separated (what is stored)."""
    subject_count: int

    @cached_property
    def subjects_digest(self) -> str:
        """The digest of :attr:`subjects_text` (what the receipt carries)."""
        return subjects_digest(self.subjects_text)


def subjects_digest(text: str) -> str:
    """``sha256:<hex>`` of the stored subject list (goes into the receipt)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class SubjectLimitReached(ResourceExhausted):
    """Some subjects were already checked as often as the window allows."""

    def __init__(
        self, product: str, count: int, limit: int, hours: float, *, zone_wide: bool = False
    ) -> None:
        by = " by all callers together" if zone_wide else ""
        super().__init__(
            f"{count} subject(s) were already checked {limit} time(s){by} in the last {hours:g} "
            "hours; nothing was checked",
            reason="zone_subject_check_limit" if zone_wide else "subject_check_limit",
        )
        subject = "zone-subject-checks" if zone_wide else "subject-checks"
        self.violations = (
            (f"{subject}:{product}", f"at most {limit} checks per subject{by} per {hours:g} h"),
        )


class ScoreBudgetExhausted(ResourceExhausted):
    """The principal's scoring budget for the model is spent."""

    def __init__(self, product: str, model: str, budget: int, used: int) -> None:
        super().__init__(
            f"scoring budget for this model exhausted ({used} of {budget} subjects used)",
            reason="score_budget_exhausted",
        )
        self.violations = ((f"score-queries:{product}:{model}", f"{budget} subjects per model"),)


@dataclass
class _Window:
    version: str
    counts: npt.NDArray[np.int64]
    principal: str  # '' for the zone-wide window
    product: str
    kind: Kind
    count_unknown: bool
    seen: int = 0  # the highest check_id counted (or known to be outside the window)
    unknown: Counter[str] = field(default_factory=Counter)
    events: deque[tuple[float, I64, tuple[str, ...]]] = field(default_factory=deque)

    def catch_up(self, conn: Tx, records: ProductRecords, since: float) -> None:
        """Count the log rows written since :attr:`seen` (by other processes sharing the state).

        Inside an admission's write transaction this is exact: on PostgreSQL every writer
        holds the cluster-wide write lock, so no other replica logs a check between this
        read and the commit; on SQLite the file's write lock does the same.

        A window that has counted rows reads only those after :attr:`seen`, by the primary
        key (``|| ''`` and ``+ 0`` keep SQLite off the window indexes, which would scan every
        check in the window: 3.7 ms at 50,000 checks against 4 us); a new window reads its
        whole span through the window index.
        """
        args: tuple[object, ...] = (self.seen, self.product, self.kind, since)
        if self.seen:
            where = "check_id > ? AND product || '' = ? AND kind || '' = ? AND checked_at + 0 > ?"
        else:
            where = "check_id > ? AND product = ? AND kind = ? AND checked_at > ?"
        if self.principal:
            where += " AND principal || '' = ?" if self.seen else " AND principal = ?"
            args = (*args, self.principal)
        rows = conn.execute(
            f"SELECT check_id, checked_at, subjects FROM verification_checks WHERE {where} "
            "ORDER BY check_id",
            args,
        ).fetchall()
        for check_id, checked_at, subjects in rows:
            self._add_logged(records, float(checked_at), str(subjects))
            self.seen = max(self.seen, int(check_id))

    def _add_logged(self, records: ProductRecords, when: float, subjects: str) -> None:
        keys = subjects.split("\n")
        rows = records.lookup(keys)
        missing = (
            tuple(keys[i] for i in np.flatnonzero(rows < 0).tolist()) if self.count_unknown else ()
        )
        self.add(when, rows[rows >= 0], missing)

    def expire(self, before: float) -> None:
        while self.events and self.events[0][0] <= before:
            _, rows, unknown = self.events.popleft()
            self.counts[rows] -= 1
            self.unknown.subtract(unknown)
            for key in unknown:
                if self.unknown[key] <= 0:
                    del self.unknown[key]

    def over(self, rows: I64, unknown: Sequence[str], limit: int) -> int:
        known = int(np.count_nonzero(self.counts[rows] >= limit)) if len(rows) else 0
        return known + sum(1 for key in unknown if self.unknown[key] >= limit)

    def add(self, when: float, rows: I64, unknown: tuple[str, ...]) -> None:
        self.counts[rows] += 1
        self.unknown.update(unknown)
        self.events.append((when, rows, unknown))


class WindowGate:
    """The windows of one admission, held under the limiter's lock (see the module docstring)."""

    def __init__(
        self,
        windows: tuple[tuple[_Window, int], ...],
        records: ProductRecords,
        now: float,
        hours: float,
    ) -> None:
        self._windows = windows  # (the principal's, the zone's), each with its limit
        self._records = records
        self._now = now
        self._since = now - hours * 3600.0
        self._hours = hours
        self._taken: tuple[I64, tuple[str, ...]] | None = None
        self._check_id = 0

    def take(self, tx: Tx, log: CheckLog, rows: I64, unknown: Sequence[str] = ()) -> None:
        """Check the windows of the subjects checked and write the log row in ``tx``.

        Args:
            tx: The admission's open write transaction.
            log: The call's log row (the subjects it checks).
            rows: Row numbers of the subjects checked that are in the dataset (each once).
            unknown: Keys of the subjects checked that are not, when they count.

        Raises:
            SubjectLimitReached: a subject is at its limit, the principal's or the zone-wide
                one (nothing written).
        """
        for window, _ in self._windows:
            window.catch_up(tx, self._records, self._since)
        for position, (window, limit) in enumerate(self._windows):
            over = window.over(rows, unknown, limit)
            if over:
                zone_wide = position > 0
                raise SubjectLimitReached(
                    log.product, over, limit, self._hours, zone_wide=zone_wide
                )
        (check_id,) = tx.execute(
            "INSERT INTO verification_checks (request_id, release_id, principal, product, kind, "
            "checked_at, purpose, subject_count, subjects, subjects_digest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING check_id",
            (
                log.request_id,
                log.release_id,
                log.principal,
                log.product,
                log.kind,
                self._now,
                log.purpose,
                log.subject_count,
                log.subjects_text,
                log.subjects_digest,
            ),
        ).fetchone()
        self._taken = (rows.copy(), tuple(unknown))
        self._check_id = int(check_id)

    def _commit(self) -> None:
        if self._taken is not None:
            for window, _ in self._windows:
                window.add(self._now, *self._taken)
                window.seen = max(window.seen, self._check_id)


class CheckLimiter:
    """Sliding-window limits on subject checks, backed by the ``verification_checks`` log."""

    def __init__(self, store: State, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str, Kind], _Window] = {}

    @contextmanager
    def admitting(
        self,
        key: tuple[str, str, Kind],
        records: ProductRecords,
        *,
        limit: int,
        window_hours: float,
        count_unknown: bool = False,
        zone_limit: int | None = None,
    ) -> Iterator[WindowGate]:
        """Hold the windows of (principal, product, kind) while a call is admitted.

        With ``zone_limit``, the zone-wide window of (product, kind), shared by every
        principal, is held and checked too.

        Yields:
            The gate: the admission calls :meth:`WindowGate.take` inside its transaction. The
            windows count the subjects taken once the body returns (the admission committed);
            a body that raises counts nothing.
        """
        span = window_hours * 3600.0
        _, product, kind = key
        keys = [(key, limit)]
        if zone_limit is not None:
            keys.append((("", product, kind), zone_limit))  # no principal id is empty
        with self._lock:
            now = self._clock()
            windows = []
            for window_key, window_limit in keys:
                window = self._window(window_key, records, now - span, count_unknown)
                window.expire(now - span)
                windows.append((window, window_limit))
            gate = WindowGate(tuple(windows), records, now, window_hours)
            yield gate
            gate._commit()

    def _window(
        self, key: tuple[str, str, Kind], records: ProductRecords, since: float, unknown: bool
    ) -> _Window:
        window = self._windows.get(key)
        if window is not None and window.version == records.version:
            return window
        principal, product, kind = key
        window = _Window(
            records.version,
            np.zeros(records.size, dtype=np.int64),
            principal,
            product,
            kind,
            unknown,
        )
        with self._store.read() as conn:
            window.catch_up(conn, records, since)
        self._windows[key] = window
        return window


def take_score_budget(
    conn: Tx,
    *,
    principal: str,
    product: str,
    model: str,
    count: int,
    budget: int,
) -> None:
    """Count ``count`` scored subjects against the budget, or refuse (inside ``conn``'s txn).

    Raises:
        ScoreBudgetExhausted: the budget cannot cover ``count`` (nothing is counted).
    """
    key = (principal, product, model)
    conn.execute(
        "INSERT INTO verification_score_usage (principal, product, model, scored) "
        "VALUES (?, ?, ?, 0) ON CONFLICT DO NOTHING",
        key,
    )
    updated = conn.execute(
        "UPDATE verification_score_usage SET scored = scored + ? "
        "WHERE principal = ? AND product = ? AND model = ? AND scored + ? <= ?",
        (count, *key, count, budget),
    ).rowcount
    if not updated:
        (used,) = conn.execute(
            "SELECT scored FROM verification_score_usage "
            "WHERE principal = ? AND product = ? AND model = ?",
            key,
        ).fetchone()
        raise ScoreBudgetExhausted(product, model, budget, int(used))
