"""Abuse limits: checks per subject in a sliding window, and the per-model scoring budget.

Per principal, product and kind (match or score), a subject found in the dataset may be
checked at most ``checks_per_subject`` times in any ``window_hours``-long window. The record is
the ``verification_checks`` log (one row per admitted call, with its subject keys); counting a
call's subjects in SQLite row by row would cost more than the homomorphic work (measured about
2.5 us per subject upserted against 2.5 us per claim of BFV work), so the counts are kept in
memory per (principal, product, kind), rebuilt from the log on first use, and changed only
after the log row has committed.

Atomicity: one lock per limiter covers check, log insert and count update, so two concurrent
calls cannot both pass a limit; a refused call writes nothing and changes no count. The log
row commits before any computation starts; a call that then fails stays counted (the check
may have been computed). Subjects not in the dataset are not counted (their answer cannot
change), but they are logged. This holds for one server process, which is the deployment the
SQLite state store supports.

The scoring budget is a single counter per (principal, product, model), raised by a
conditional UPDATE in the same transaction as the log row.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
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

    def __init__(self, product: str, count: int, limit: int, hours: float) -> None:
        super().__init__(
            f"{count} subject(s) were already checked {limit} time(s) in the last {hours:g} "
            "hours; nothing was checked",
            reason="subject_check_limit",
        )
        self.violations = (
            (f"subject-checks:{product}", f"at most {limit} checks per subject per {hours:g} h"),
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
    events: deque[tuple[float, I64]] = field(default_factory=deque)

    def expire(self, before: float) -> None:
        while self.events and self.events[0][0] <= before:
            _, rows = self.events.popleft()
            self.counts[rows] -= 1

    def add(self, when: float, rows: I64) -> None:
        self.counts[rows] += 1
        self.events.append((when, rows))


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
        log: CheckLog,
        rows: I64,
        records: ProductRecords,
        *,
        limit: int,
        window_hours: float,
    ) -> Iterator[Callable[[Tx], None]]:
        """Check the windows and hold them while the call is admitted; refuse if one is full.

        Args:
            log: The call's log row.
            rows: Row numbers of the subjects found in the dataset (each at most once).
            records: The product's records (to rebuild counts from the log).
            limit: Checks allowed per subject in the window.
            window_hours: The window.

        Yields:
            ``record(tx)``: writes the check log row inside the admission transaction. The
            windows count the call once the body returns (the admission committed); a body
            that raises counts nothing.

        Raises:
            SubjectLimitReached: a found subject is at its limit (nothing written).
        """
        span = window_hours * 3600.0
        with self._lock:
            now = self._clock()
            window = self._window(log, records, now - span)
            window.expire(now - span)
            over = int(np.count_nonzero(window.counts[rows] >= limit)) if len(rows) else 0
            if over:
                raise SubjectLimitReached(log.product, over, limit, window_hours)

            def record(tx: Tx) -> None:
                tx.execute(
                    "INSERT INTO verification_checks (request_id, release_id, principal, "
                    "product, kind, checked_at, purpose, subject_count, subjects, "
                    "subjects_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        log.request_id,
                        log.release_id,
                        log.principal,
                        log.product,
                        log.kind,
                        now,
                        log.purpose,
                        log.subject_count,
                        log.subjects_text,
                        log.subjects_digest,
                    ),
                )

            yield record
            window.add(now, rows.copy())

    def _window(self, log: CheckLog, records: ProductRecords, since: float) -> _Window:
        key = (log.principal, log.product, log.kind)
        window = self._windows.get(key)
        if window is not None and window.version == records.version:
            return window
        window = _Window(records.version, np.zeros(records.size, dtype=np.int64))
        with self._store.read() as conn:
            past = conn.execute(
                "SELECT checked_at, subjects FROM verification_checks WHERE principal = ? "
                "AND product = ? AND kind = ? AND checked_at > ? ORDER BY checked_at",
                (*key, since),
            ).fetchall()
        for checked_at, subjects in past:
            rows = records.lookup(str(subjects).split("\n"))
            window.add(float(checked_at), rows[rows >= 0])
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
