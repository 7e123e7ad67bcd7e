"""Metering: the one entry point products call when a call or job is admitted.

:meth:`Metering.charge` runs in one SQLite write transaction (the caller's, when it passes
``conn``, so that e.g. a statistics query's privacy reservation and its metering commit or
roll back together):

1. the quota: one conditional upsert on the principal x product counter for the current
   fixed UTC window (reset when the window has moved on); it changes nothing when
   ``used + 1`` would exceed the limit, so concurrent calls can never exceed a quota (the
   same pattern as the privacy ledger's budget);
2. the principal's monthly volume counter, whose new value is this unit's ordinal (volume
   tiers);
3. the usage row, priced by the grant (free, but still metered, for public interest);
4. the charge split among the dataset's providers (parts sum exactly to the charge);
5. a ``metering.charge`` record on the audit chain.

A refused call raises :class:`QuotaExhausted` and has written nothing. Billing rule: a usage
row is billed unless it was voided (:meth:`Metering.void`) or the privacy charge it is linked
to (``release_id``) ended ``failed`` or ``refunded``, i.e. nothing was released. The quota is
not given back in either case: it bounds how often a principal may query the data, and a
call that failed still ran against it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn

from zone.audit import AuditChain
from zone.errors import ResourceExhausted
from zone.metering.pricing import (
    Priced,
    Unit,
    iso,
    month_start,
    price_of,
    split,
    window_end,
    window_start,
)
from zone.metering.reports import Period, RevenueRow, UsageRow, revenue_report, usage_report
from zone.policy import Grant, Quota
from zone.state.api import State, Statement, Tx, execute_all, execute_later

ProvidersOf = Callable[[str], tuple[str, Sequence[tuple[str, Decimal]]]]
"""Product id -> (its dataset, the dataset's providers and shares)."""


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class QuotaExhausted(ResourceExhausted):
    """The principal's call quota for the product is spent for the current window."""

    def __init__(self, product: str, quota: Quota, used: int, resets_at: datetime) -> None:
        super().__init__(
            f"your call quota for product {product!r} is spent until {iso(resets_at)}",
            reason="quota_exhausted",
        )
        self.product = product
        self.quota = quota
        self.used = used
        self.resets_at = resets_at
        self.violations: tuple[tuple[str, str], ...] = (
            (
                f"quota:{product}:calls_per_{quota.window}",
                f"limit {quota.calls} per {quota.window} (UTC); used {used}; remaining 0 "
                f"until {iso(resets_at)}",
            ),
        )


@dataclass(frozen=True)
class Charge:
    """One admitted, metered call or job."""

    usage_id: str
    principal: str
    product: str
    dataset: str
    unit: Unit
    priced: Priced
    shares: tuple[tuple[str, int], ...]
    quota: Quota | None
    quota_used: int
    time: str

    @property
    def quota_remaining(self) -> int | None:
        """Calls left in the current window; None when the product has no quota."""
        return None if self.quota is None else max(0, self.quota.calls - self.quota_used)


class Metering:
    """Quotas, prices, usage and revenue shares; see the module docstring for guarantees."""

    def __init__(
        self,
        store: State,
        audit: AuditChain,
        providers_of: ProvidersOf,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._audit = audit
        self._providers_of = providers_of
        self._clock = clock

    def charge(
        self,
        principal: str,
        grant: Grant,
        product: str,
        *,
        unit: Unit,
        request_id: str,
        release_id: str = "",
        conn: Tx | None = None,
    ) -> Charge:
        """Admit one call or job: consume quota, price it, record usage, split, audit.

        Args:
            principal: Id of the caller.
            grant: The grant in force that authorized the call.
            product: The product called.
            unit: ``"call"`` (priced per call, volume tiers) or ``"job"`` (``per_job``).
            request_id: The RPC's request id.
            release_id: The privacy-ledger charge paying for the call, if any; the usage is
                not billed if that charge ends failed or refunded.
            conn: The caller's open ``store.write()`` connection, to join its transaction.

        Returns:
            The charge as recorded.

        Raises:
            QuotaExhausted: the quota of the current window is spent; nothing was written.
        """
        now = self._clock()
        dataset, provider_shares = self._providers_of(product)
        with self._store.joined(conn) as w:
            quota = grant.quota_for(product)
            used, ordinal = _take_quota_and_count(w, principal, product, quota, unit, now)
            priced = price_of(grant, unit, ordinal - 1)
            parts = tuple(split(priced.amount_micro, provider_shares))
            charge = Charge(
                usage_id=uuid.uuid4().hex,
                principal=principal,
                product=product,
                dataset=dataset,
                unit=unit,
                priced=priced,
                shares=parts,
                quota=quota,
                quota_used=used,
                time=iso(now),
            )
            _insert_usage(w, charge, grant, request_id, release_id)
            self._audit.append(
                "metering.charge", _charge_record(charge, grant, request_id, release_id), conn=w
            )
        return charge

    def void(self, usage_id: str, reason: str, *, conn: Tx | None = None) -> bool:
        """Do not bill an admitted call (nothing was released); the quota stays consumed.

        For products without a privacy charge (whose failures the ledger does not record).
        Returns False when the usage row does not exist or was voided already.
        """
        with self._store.joined(conn) as w:
            row = w.execute(
                "SELECT principal, product, release_id, currency, amount_micro FROM usage "
                "WHERE usage_id = ? AND voided_at IS NULL",
                (usage_id,),
            ).fetchone()
            voided = w.execute(
                "UPDATE usage SET voided_at = ?, void_reason = ? "
                "WHERE usage_id = ? AND voided_at IS NULL",
                (iso(self._clock()), reason, usage_id),
            ).rowcount
            if row is None or not voided:
                return False
            principal, product, release_id, currency, amount = row
            self._audit.append(
                "metering.void",
                {
                    "usage_id": usage_id,
                    "principal": principal,
                    "product": product,
                    "release_id": release_id,
                    "currency": currency,
                    "amount_micro": amount,
                    "reason": reason,
                },
                conn=w,
            )
        return True

    def usage(self, period: Period, *, principal: str = "", product: str = "") -> list[UsageRow]:
        """Usage per principal x product x currency in ``period`` (see :func:`usage_report`)."""
        with self._store.read() as conn:
            return usage_report(conn, period, principal=principal, product=product)

    def revenue(self, period: Period, *, provider: str = "") -> list[RevenueRow]:
        """Billed revenue per provider x currency in ``period`` (see :func:`revenue_report`)."""
        with self._store.read() as conn:
            return revenue_report(conn, period, provider=provider)


def _take_quota_and_count(
    conn: Tx, principal: str, product: str, quota: Quota | None, unit: Unit, now: datetime
) -> tuple[int, int]:
    """Consume one unit of quota and count the unit in the monthly volume, in one round trip.

    Returns the quota now used (0 without a quota) and the unit's ordinal in the month.
    The quota is one conditional upsert on the principal x product counter; a stored window
    later than ``now``'s (the clock stepped back) counts as the current one, so a clock
    change never resets a counter early.

    Raises:
        QuotaExhausted: no unit left; the counter is unchanged (the volume upsert that ran
            beside it rolls back with the caller's transaction, which this raises out of).
    """
    start = iso(window_start(quota.window, now)) if quota is not None else ""
    take: Statement = (
        "INSERT INTO quota_use AS q (principal, product, window_start, used) "
        "VALUES (:p, :pr, :w, 1) "
        "ON CONFLICT (principal, product) DO UPDATE SET "
        "used = (CASE WHEN q.window_start >= :w THEN q.used ELSE 0 END) + 1, "
        "window_start = CASE WHEN q.window_start >= :w THEN q.window_start ELSE :w END "
        "WHERE (CASE WHEN q.window_start >= :w THEN q.used ELSE 0 END) + 1 <= :limit "
        "RETURNING used",
        {"p": principal, "pr": product, "w": start, "limit": quota.calls if quota else 0},
    )
    count: Statement = (
        "INSERT INTO month_volume AS v (principal, unit, month, units) VALUES (:p, :u, :m, 1) "
        "ON CONFLICT (principal, unit) DO UPDATE SET "
        "units = (CASE WHEN v.month >= :m THEN v.units ELSE 0 END) + 1, "
        "month = CASE WHEN v.month >= :m THEN v.month ELSE :m END "
        "RETURNING units",
        {"p": principal, "u": unit, "m": iso(month_start(now))},
    )
    if quota is None:
        (counted,) = execute_all(conn, [count])
        return 0, int(counted.fetchone()[0])
    if quota.calls <= 0:
        _refuse_quota(conn, principal, product, quota, now, start)
    taken, counted = execute_all(conn, [take, count])
    row = taken.fetchone()
    if row is None:
        _refuse_quota(conn, principal, product, quota, now, start)
    return int(row[0]), int(counted.fetchone()[0])


def _refuse_quota(
    conn: Tx, principal: str, product: str, quota: Quota, now: datetime, start: str
) -> NoReturn:
    current = conn.execute(
        "SELECT used FROM quota_use WHERE principal = ? AND product = ? AND window_start >= ?",
        (principal, product, start),
    ).fetchone()
    raise QuotaExhausted(
        product, quota, int(current[0]) if current else 0, window_end(quota.window, now)
    )


def _insert_usage(conn: Tx, charge: Charge, grant: Grant, request_id: str, release_id: str) -> None:
    """Insert the usage row and its revenue shares (their INSERTs ride on a later round trip)."""
    p = charge.priced
    execute_later(
        conn,
        "INSERT INTO usage (usage_id, request_id, release_id, principal, product, dataset, "
        "unit, currency, amount_micro, list_micro, tier, public_interest, purpose, "
        "grant_source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            charge.usage_id,
            request_id,
            release_id,
            charge.principal,
            charge.product,
            charge.dataset,
            charge.unit,
            p.currency,
            p.amount_micro,
            p.list_micro,
            p.tier,
            int(grant.public_interest),
            grant.purpose,
            grant.source,
            charge.time,
        ),
    )
    for who, part in charge.shares:
        if part > 0:
            execute_later(
                conn,
                "INSERT INTO revenue_shares (usage_id, provider, currency, amount_micro) "
                "VALUES (?, ?, ?, ?)",
                (charge.usage_id, who, p.currency, part),
            )


def _charge_record(
    charge: Charge, grant: Grant, request_id: str, release_id: str
) -> dict[str, Any]:
    p = charge.priced
    quota = charge.quota
    return {
        "usage_id": charge.usage_id,
        "request_id": request_id,
        "release_id": release_id,
        "time": charge.time,
        "principal": charge.principal,
        "product": charge.product,
        "dataset": charge.dataset,
        "unit": charge.unit,
        "currency": p.currency,
        "amount_micro": p.amount_micro,
        "list_micro": p.list_micro,
        "tier": p.tier,
        "public_interest": grant.public_interest,
        "purpose": grant.purpose,
        "grant_source": grant.source,
        "quota": None
        if quota is None
        else {"limit": quota.calls, "window": quota.window, "used": charge.quota_used},
        "shares": {who: part for who, part in charge.shares if part > 0},
    }
