"""Running a statistics query for a caller: authorize, plan, cap, charge, execute, receipt.

The order is the guarantee: everything that can refuse a query (authorization, validation,
caps, budget) runs before any data is read, and the budget is charged durably before any noise
is drawn. Once data-dependent work has started the charge is never refunded; a failure settles
it as ``failed``. A successful release settles it as ``released`` with its receipt on the audit
chain in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zone import __version__
from zone.access import authorize_product, budget_account, check_epsilon_cap
from zone.audit import ReleasedArtifact, utc_timestamp
from zone.catalog import StatisticsProduct, table_name
from zone.ledger import Account, Amount, Balance
from zone.policy import Grant, PolicySet, Principal
from zone.products.statistics.execute import execute
from zone.products.statistics.plan import QueryPlan, plan_query
from zone.products.statistics.query import StatsQuery
from zone.products.statistics.release import StatsRelease
from zone.runtime import ZoneRuntime

ACCOUNTANT = (
    "pure-DP basic composition: sequential over measures (and key selection), parallel over "
    "disjoint groups and bins"
)


@dataclass(frozen=True)
class Estimate:
    """What a query would spend and what the caller has left."""

    plan: QueryPlan
    balance: Balance


@dataclass(frozen=True)
class Outcome:
    """A completed release."""

    release_id: str
    plan: QueryPlan
    release: StatsRelease
    charged: Amount
    balance: Balance
    dataset_version: str
    output_digest: str


class StatisticsService:
    """DP statistics for callers of the zone (no grpc here)."""

    def __init__(self, runtime: ZoneRuntime) -> None:
        self._runtime = runtime

    def _prepare(
        self, policies: PolicySet, principal: Principal, query: StatsQuery
    ) -> tuple[QueryPlan, Account, Grant]:
        runtime = self._runtime
        product, grant = authorize_product(
            policies, principal, runtime.products, query.product, StatisticsProduct
        )
        plan = plan_query(query, product, runtime.catalog.get(product.dataset).meta)
        check_epsilon_cap(plan.epsilon, product.max_epsilon_per_query, grant)
        return plan, budget_account(policies, principal, grant, product.dataset), grant

    def estimate(self, policies: PolicySet, principal: Principal, query: StatsQuery) -> Estimate:
        """Plan the query and read the caller's balance; spends nothing, reads no data.

        Raises:
            PermissionDenied: product not granted, or epsilon above a cap.
            InvalidArgument: the query is malformed (every problem listed).
        """
        plan, account, _ = self._prepare(policies, principal, query)
        return Estimate(plan, self._runtime.ledger.balance(account))

    def run(
        self, policies: PolicySet, principal: Principal, query: StatsQuery, request_id: str
    ) -> Outcome:
        """Charge, execute and release a query.

        Guarantee: the release is (plan.epsilon, plan.delta)-DP for one entity added or removed
        (see ``zone.products.statistics.execute.GUARANTEE``), composed by ``ACCOUNTANT``.

        Raises:
            PermissionDenied: product not granted, or epsilon above a cap (nothing spent).
            InvalidArgument: the query is malformed (nothing spent).
            BudgetExhausted: the budget or the zone-wide cap cannot cover it (nothing spent).
            QuotaExhausted: the call quota is spent (nothing spent, no quota consumed).
        """
        runtime = self._runtime
        plan, account, grant = self._prepare(policies, principal, query)
        info = runtime.catalog.get(plan.dataset)
        cursor = runtime.catalog.cursor()
        cost = Amount.cost(plan.epsilon, plan.delta)
        with runtime.store.write() as conn:  # budget and quota are taken, or refused, together
            reservation = runtime.ledger.reserve(
                account, product=plan.product, cost=cost, request_id=request_id, conn=conn
            )
            runtime.metering.charge(
                principal.id, grant, plan.product, unit="call", request_id=request_id,
                release_id=reservation.release_id, conn=conn,
            )  # fmt: skip
        try:
            release = execute(plan, cursor, table_name(plan.dataset))
        except BaseException as exc:
            runtime.ledger.fail(reservation, type(exc).__name__)
            raise
        finally:
            cursor.close()
        digest = release.payload_digest()
        receipt: dict[str, Any] = {
            "release_id": reservation.release_id,
            "request_id": request_id,
            "time": utc_timestamp(),
            "principal": principal.id,
            "product": plan.product,
            "dataset": plan.dataset,
            "dataset_version": info.version,
            "policy_digest": policies.digest,
            "code_version": __version__,
            "epsilon_micro": cost.epsilon_micro,
            "delta_femto": cost.delta_femto,
            "mechanisms": sorted({c.mechanism for m in plan.measures for c in m.components}),
            "accountant": ACCOUNTANT,
            "output_digest": digest,
        }
        artifact = ReleasedArtifact("statistics", release.to_dict())
        runtime.ledger.release(reservation, receipt, artifact=artifact)
        return Outcome(
            release_id=reservation.release_id,
            plan=plan,
            release=release,
            charged=cost,
            balance=runtime.ledger.balance(account),
            dataset_version=info.version,
            output_digest=digest,
        )
