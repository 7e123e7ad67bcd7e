from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone.audit import AuditChain, verify_chain
from zone.ledger import Account, Amount, BudgetExhausted, PrivacyLedger
from zone.ledger.charges import AlreadySettled, ChargeState, is_valid_transition
from zone.state import StateStore


@pytest.fixture
def ledger(store: StateStore) -> PrivacyLedger:
    return PrivacyLedger(store, AuditChain(store))


def account(limit: float = 1.0, cap: float | None = None, who: str = "bank-a") -> Account:
    return Account(
        who, "enterprises", Amount.limit(limit, 1e-6), Amount.limit(cap, 1e-5) if cap else None
    )


def charges(store: StateStore) -> list[tuple[str, str]]:
    with store.read() as conn:
        return list(conn.execute("SELECT release_id, state FROM charges ORDER BY created_at"))


def test_units_round_costs_up_and_limits_down() -> None:
    assert Amount.cost(0.1) == Amount(100_000, 0)
    assert Amount.cost(1e-7).epsilon_micro == 1  # never free
    assert Amount.limit(1e-7).epsilon_micro == 0
    assert Amount.cost(0.0, 1e-16).delta_femto == 1
    assert sum(Amount.cost(x).epsilon_micro for x in (0.1, 0.2)) == Amount.cost(0.3).epsilon_micro
    with pytest.raises(ValueError):
        Amount.cost(float("nan"))
    with pytest.raises(ValueError):
        Amount.cost(-1.0)


def test_reserve_then_release_writes_charge_and_receipt(
    ledger: PrivacyLedger, store: StateStore
) -> None:
    r = ledger.reserve(account(), product="p", cost=Amount.cost(0.25), request_id="req")
    entry = ledger.release(r, {"release_id": r.release_id, "output_digest": "x"})
    assert entry.kind == "release"
    assert charges(store) == [(r.release_id, "released")]
    balance = ledger.balance(account())
    assert balance.spent == Amount(250_000, 0) and balance.remaining.epsilon == 0.75
    with store.read() as conn:
        assert verify_chain(conn).ok
        kinds = [k for (k,) in conn.execute("SELECT kind FROM audit_log ORDER BY seq")]
    assert kinds == ["ledger.charge", "release"]


def test_exhausted_budget_changes_nothing(ledger: PrivacyLedger, store: StateStore) -> None:
    ledger.reserve(account(), product="p", cost=Amount.cost(0.9), request_id="a")
    with pytest.raises(BudgetExhausted) as err:
        ledger.reserve(account(), product="p", cost=Amount.cost(0.2), request_id="b")
    assert err.value.subject == "principal"
    assert "remaining epsilon 0.1" in err.value.violations[0][1]
    assert len(charges(store)) == 1
    assert ledger.balance(account()).spent.epsilon_micro == 900_000


def test_delta_is_budgeted_too(ledger: PrivacyLedger) -> None:
    with pytest.raises(BudgetExhausted):
        ledger.reserve(account(), product="p", cost=Amount.cost(0.1, 2e-6), request_id="a")


def test_a_refusal_says_which_of_epsilon_and_delta_is_short_and_by_how_much(
    ledger: PrivacyLedger,
) -> None:
    ledger.reserve(account(), product="p", cost=Amount.cost(0.75, 1e-6), request_id="a")
    cases = {
        (0.5, 0.0): ["epsilon is short by 0.25 (requested 0.5, remaining 0.25)"],
        (0.1, 1e-7): ["delta is short by 1e-07 (requested 1e-07, remaining 0)"],
        (1.0, 5e-7): [
            "epsilon is short by 0.75 (requested 1, remaining 0.25)",
            "delta is short by 5e-07 (requested 5e-07, remaining 0)",
        ],
    }
    for (epsilon, delta), short in cases.items():
        with pytest.raises(BudgetExhausted) as err:
            ledger.reserve(account(), product="p", cost=Amount.cost(epsilon, delta),
                           request_id="b")  # fmt: skip
        assert err.value.message == (
            "your privacy budget for dataset 'enterprises' cannot cover this request: "
            + "; ".join(short)
        )


def test_zone_wide_cap_binds_across_principals(ledger: PrivacyLedger) -> None:
    for who in ("a", "b", "c"):
        ledger.reserve(account(1.0, cap=2.5, who=who), product="p", cost=Amount.cost(0.8),
                       request_id=who)  # fmt: skip
    with pytest.raises(BudgetExhausted) as err:
        ledger.reserve(account(1.0, cap=2.5, who="d"), product="p", cost=Amount.cost(0.2),
                       request_id="d")  # fmt: skip
    assert err.value.subject == "dataset"
    assert err.value.message == (
        "the zone-wide privacy budget for dataset 'enterprises' cannot cover this request: "
        "epsilon is short by 0.1 (requested 0.2, remaining 0.1)"
    )
    # The refused reservation spent nothing for principal d either.
    assert ledger.balance(account(who="d")).spent.epsilon_micro == 0


def test_refund_gives_back_and_fail_does_not(ledger: PrivacyLedger, store: StateStore) -> None:
    a = ledger.reserve(account(cap=5.0), product="p", cost=Amount.cost(0.3), request_id="a")
    b = ledger.reserve(account(cap=5.0), product="p", cost=Amount.cost(0.3), request_id="b")
    ledger.refund(a, "cancelled before start")
    ledger.fail(b, "execution failed")
    assert ledger.balance(account(cap=5.0)).spent.epsilon_micro == 300_000
    assert ledger.balance(account(cap=5.0)).cap_remaining == Amount.limit(4.7, 1e-5)
    assert dict(charges(store)) == {a.release_id: "refunded", b.release_id: "failed"}
    with pytest.raises(AlreadySettled) as settled:
        ledger.release(a, {})  # a settled charge cannot be settled again
    assert settled.value.state == "refunded"


def test_recover_settles_open_reservations_as_failed(
    ledger: PrivacyLedger, store: StateStore
) -> None:
    r = ledger.reserve(account(), product="p", cost=Amount.cost(0.4), request_id="a")
    assert ledger.recover() == 1
    assert charges(store) == [(r.release_id, "failed")]
    assert ledger.balance(account()).spent.epsilon_micro == 400_000  # still charged
    assert ledger.recover() == 0


def test_forty_concurrent_reservations_grant_exactly_ten(tmp_path: Path) -> None:
    """Each thread has its own store on the same file, as separate connections would."""
    path = tmp_path / "state.sqlite"
    StateStore.open(path).close()
    granted: list[str] = []
    refused: list[str] = []
    barrier = threading.Barrier(40)

    def worker(i: int) -> None:
        with StateStore.open(path) as store:
            ledger = PrivacyLedger(store, AuditChain(store))
            barrier.wait()
            try:
                ledger.reserve(account(1.0), product="p", cost=Amount.cost(0.1),
                               request_id=str(i))  # fmt: skip
                granted.append(str(i))
            except BudgetExhausted:
                refused.append(str(i))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 10 and len(refused) == 30
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT epsilon_micro FROM budget_spend").fetchone() == (1_000_000,)
        assert conn.execute("SELECT count(*) FROM charges").fetchone() == (10,)
    finally:
        conn.close()


@settings(max_examples=40, deadline=None)
@given(costs=st.lists(st.floats(min_value=0.0, max_value=0.7), min_size=1, max_size=25))
def test_spent_never_exceeds_limit(
    tmp_path_factory: pytest.TempPathFactory, costs: list[float]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "state.sqlite"
    with StateStore.open(path) as store:
        ledger = PrivacyLedger(store, AuditChain(store))
        accepted = 0
        for i, eps in enumerate(costs):
            try:
                ledger.reserve(account(1.0), product="p", cost=Amount.cost(eps), request_id=str(i))
                accepted += Amount.cost(eps).epsilon_micro
            except BudgetExhausted:
                pass
        spent = ledger.balance(account(1.0)).spent.epsilon_micro
        assert spent == accepted <= 1_000_000


def test_settlement_joins_a_caller_transaction(ledger: PrivacyLedger, store: StateStore) -> None:
    r = ledger.reserve(account(), product="p", cost=Amount.cost(0.2), request_id="a")
    assert ledger.reservation(r.release_id) == r
    with pytest.raises(RuntimeError, match="boom"), store.write() as conn:
        ledger.refund(r, "cancelled", conn=conn)
        raise RuntimeError("boom")  # the caller's transaction rolls back: nothing settled
    assert charges(store) == [(r.release_id, "reserved")]
    assert ledger.balance(account()).spent.epsilon_micro == 200_000
    with store.write() as conn:
        ledger.refund(r, "cancelled", conn=conn)
    assert ledger.balance(account()).spent.epsilon_micro == 0


def test_the_charge_transition_table_allows_only_reserved_to_an_end() -> None:
    states = list(ChargeState)
    allowed = {(a, b) for a in states for b in states if is_valid_transition(a, b)}
    assert allowed == {
        (ChargeState.RESERVED, ChargeState.RELEASED),
        (ChargeState.RESERVED, ChargeState.FAILED),
        (ChargeState.RESERVED, ChargeState.REFUNDED),
    }
