"""Admin views over a real state store: budgets in force and paginated audit queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from zone.admin import AuditFilter, budget_report, query_audit
from zone.audit import AuditChain
from zone.errors import InvalidArgument
from zone.ledger import Account, Amount, PrivacyLedger
from zone.metering import Period
from zone.policy import Budget, Grant, PolicySet, Principal
from zone.state import StateStore

TODAY = date(2026, 5, 1)


def policies() -> PolicySet:
    return PolicySet(
        principals={
            "bank-a": Principal("bank-a", "operator", "A"),
            "old": Principal("old", "operator", "O", valid_until=date(2025, 1, 1)),
        },
        grants=(
            Grant("bank-a", ("s",), {"enterprises": Budget(5.0, 1e-6)}, "p",
                  valid_until=date(2026, 1, 1)),  # expired: the next grant is in force
            Grant("bank-a", ("s",), {"enterprises": Budget(2.0, 1e-6)}, "p"),
            Grant("old", ("s",), {"enterprises": Budget(9.0, 0.0)}, "p"),
        ),
        dataset_caps={"enterprises": Budget(50.0, 1e-5)},
    )  # fmt: skip


def test_budgets_show_limits_in_force_spent_and_caps(store: StateStore) -> None:
    ledger = PrivacyLedger(store, AuditChain(store))
    for who, limit in (("bank-a", 2.0), ("old", 9.0)):
        account = Account(who, "enterprises", Amount.limit(limit, 1e-6), Amount.limit(50.0, 1e-5))
        ledger.reserve(account, product="s", cost=Amount.cost(0.5), request_id="r")
    report = budget_report(store, policies(), TODAY)
    rows = {(b.principal, b.dataset): b for b in report.budgets}
    bank = rows[("bank-a", "enterprises")]
    assert (bank.limit.epsilon, bank.spent.epsilon, bank.remaining.epsilon) == (2.0, 0.5, 1.5)
    assert bank.granted
    old = rows[("old", "enterprises")]  # lapsed principal: spent stays visible, no limit
    assert (old.granted, old.limit, old.spent.epsilon) == (False, Amount(0, 0), 0.5)
    [cap] = report.caps
    assert cap.cap is not None and cap.remaining is not None
    assert (cap.spent.epsilon, cap.remaining.epsilon) == (1.0, 49.0)
    assert [
        b.principal for b in budget_report(store, policies(), TODAY, principal="old").budgets
    ] == ["old"]
    assert budget_report(store, policies(), TODAY, dataset="other").caps == ()


def test_audit_query_filters_and_pages_without_gaps(store: StateStore) -> None:
    chain = AuditChain(store)
    for i in range(25):
        chain.append("rpc", {"principal": f"p{i % 2}", "product": "s" if i % 3 else "t", "i": i})
    chain.append("server.stop", {})
    flt = AuditFilter(principal="p0", product="s")
    seen, token = [], ""
    while True:
        page = query_audit(store, flt, page_size=3, page_token=token)
        seen += [r.seq for r in page.rows]
        token = page.next_page_token
        if not token:
            break
    expected = [i + 1 for i in range(25) if i % 2 == 0 and i % 3]
    assert seen == expected
    assert [r.kind for r in query_audit(store, AuditFilter(kind="server.stop")).rows] == [
        "server.stop"
    ]
    now = datetime.now(UTC)
    assert query_audit(store, AuditFilter(period=Period(start=now + timedelta(hours=1)))).rows == ()
    assert (
        len(query_audit(store, AuditFilter(period=Period(end=now + timedelta(hours=1)))).rows) == 26
    )


@pytest.mark.parametrize(("size", "token"), [(-1, ""), (1001, ""), (0, "7"), (0, "seq:x")])
def test_bad_page_arguments_are_invalid(store: StateStore, size: int, token: str) -> None:
    with pytest.raises(InvalidArgument):
        query_audit(store, AuditFilter(), page_size=size, page_token=token)
