"""The contract every state backend must keep, checked through the core that relies on it.

Transactions (commit, roll back, snapshot reads, joining), then the decisions the zone makes
with one conditional statement (budget, quota, job state, settlement), each under concurrent
writers, and the release desk's all-or-nothing recipe spanning ledger, metering and audit.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from zone.audit import AuditChain, ReleasedArtifact, ReleaseRegistry, verify_chain
from zone.errors import InvalidArgument, Unavailable
from zone.jobs import IllegalTransition, JobState, JobStore
from zone.ledger import Account, Amount, BudgetExhausted, PrivacyLedger
from zone.ledger.charges import REPLICA_DIED, AlreadySettled
from zone.metering import Metering, QuotaExhausted
from zone.models.registry import ModelRegistry
from zone.policy import Grant, Price, Quota
from zone.release.desk import FENCED, Order, ReleaseDesk
from zone.release.receipt import Receipt, StatisticsPart
from zone.state.api import State, Tx
from zone.state.location import StateLocation

SHARES = (("market", Decimal("0.5")), ("tax", Decimal("0.5")))


def grant(calls: int | None = None) -> Grant:
    quotas = {} if calls is None else {"stats": Quota(calls, "day")}
    return Grant("bank-a", ("stats",), {}, "credit risk",
                 price=Price("CNY", per_call_micro=50_000), quotas=quotas,
                 source="policies/ops.yaml:1")  # fmt: skip


def parts(state: State) -> tuple[AuditChain, PrivacyLedger, Metering, ReleaseDesk]:
    audit = AuditChain(state)
    ledger = PrivacyLedger(state, audit)
    metering = Metering(state, audit, lambda product: ("enterprises", SHARES))
    desk = ReleaseDesk(state, ledger, metering, ReleaseRegistry(state, audit))
    return audit, ledger, metering, desk


def count(state: State, table: str) -> int:
    with state.read() as tx:
        return int(tx.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def run_together(n: int, fn: Any) -> list[Any]:
    results: list[Any] = [None] * n
    start = threading.Barrier(n)

    def one(i: int) -> None:
        start.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test counts
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- transactions ----------------------------------------------------------------------------


def test_a_write_commits_and_a_raising_body_rolls_back(state: State) -> None:
    audit = AuditChain(state)
    with state.write() as tx:
        audit.append("a", {"n": 1}, conn=tx)
    with pytest.raises(RuntimeError, match="boom"), state.write() as tx:
        audit.append("b", {"n": 2}, conn=tx)
        raise RuntimeError("boom")
    assert [e.kind for e in audit.entries()] == ["a"]


def test_a_read_sees_one_snapshot(state: State) -> None:
    audit = AuditChain(state)
    audit.append("a", {})
    with state.read() as tx:
        before = tx.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
        threading.Thread(target=lambda: audit.append("b", {})).start()
        threading.Event().wait(0.2)
        assert tx.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == before
    assert count(state, "audit_log") == before + 1


def test_joined_joins_an_open_transaction_and_refuses_a_closed_one(state: State) -> None:
    audit = AuditChain(state)
    with pytest.raises(RuntimeError), state.write() as tx:
        with state.joined(tx) as same:
            assert same is tx
            audit.append("joined", {}, conn=same)
        raise RuntimeError("roll back both")
    assert count(state, "audit_log") == 0
    with state.write() as tx:
        pass
    with pytest.raises(RuntimeError), state.joined(tx):
        pass
    with state.joined(None) as own:
        audit.append("own", {}, conn=own)
    assert count(state, "audit_log") == 1


def test_appends_after_a_remembered_head_follow_every_other_appender(state: State) -> None:
    """Each chain skips the head read while its own entry is the head, and sees when not."""
    chains = [AuditChain(state) for _ in range(3)]
    chains[0].append("rpc", {"n": "first"}, durable=False)
    chains[0].append("rpc", {"n": "after my own"}, durable=False)  # the conditional insert

    def hammer(chain: AuditChain, t: int) -> None:
        for i in range(15):
            if i % 5 == 4:
                with state.write() as tx:
                    chain.append("joined", {"t": t, "i": i}, conn=tx)
            else:
                chain.append("rpc", {"t": str(t), "i": str(i)}, durable=i % 3 == 0)

    threads = [threading.Thread(target=hammer, args=(c, t)) for t, c in enumerate(chains)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    chains[0].append("rpc", {"n": "last"}, durable=False)
    assert count(state, "audit_log") == 2 + 3 * 15 + 1
    with state.read() as tx:
        result = verify_chain(tx)
    assert result.ok and result.length == 48


def test_write_is_not_reentrant_on_one_thread(state: State) -> None:
    with state.write(), pytest.raises(RuntimeError, match="reentrant"), state.write():
        pass


# --- decisions made by one conditional statement ---------------------------------------------


def test_forty_concurrent_reservations_fit_exactly_ten(state: State) -> None:
    _, ledger, _, _ = parts(state)
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    results = run_together(
        40,
        lambda i: ledger.reserve(account, product="p", cost=Amount.cost(0.1), request_id=f"{i}"),
    )
    granted = [r for r in results if not isinstance(r, Exception)]
    assert len(granted) == 10
    assert all(isinstance(r, BudgetExhausted) for r in results if r not in granted)
    assert ledger.balance(account).spent == Amount.limit(1.0, 0)


def test_a_call_quota_admits_exactly_its_size_under_concurrency(state: State) -> None:
    _, _, metering, _ = parts(state)
    g = grant(calls=7)
    results = run_together(
        20, lambda i: metering.charge("bank-a", g, "stats", unit="call", request_id=f"{i}")
    )
    assert sum(not isinstance(r, Exception) for r in results) == 7
    assert all(isinstance(r, QuotaExhausted) for r in results if isinstance(r, Exception))


def test_of_concurrent_moves_out_of_one_state_exactly_one_wins(state: State) -> None:
    jobs = JobStore(state, AuditChain(state))
    job = jobs.create(principal="a", product="p", dataset="d", spec={}, release_id="r")
    results = run_together(8, lambda i: jobs.transition(job.job_id, JobState.RUNNING))
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, IllegalTransition) for r in results if isinstance(r, Exception))


def test_a_charge_settles_exactly_once_under_concurrency(state: State) -> None:
    _, ledger, _, _ = parts(state)
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    r = ledger.reserve(account, product="p", cost=Amount.cost(0.5), request_id="x")
    results = run_together(6, lambda i: ledger.fail(r, "x") if i % 2 else ledger.refund(r, "x"))
    assert sum(not isinstance(x, Exception) for x in results) == 1
    assert all(isinstance(x, AlreadySettled) for x in results if isinstance(x, Exception))


# --- the release desk's recipe ---------------------------------------------------------------


def receipt_for(release_id: str) -> Receipt:
    return Receipt(release_id=release_id, request_id="req", principal="bank-a", product="stats",
                   dataset="enterprises", dataset_version="v1", policy_digest="p",
                   output_digest="sha256:00", part=StatisticsPart(("laplace",), "basic"),
                   cost=Amount.cost(0.5))  # fmt: skip


def test_a_refused_admission_rolls_back_budget_and_quota(state: State) -> None:
    audit, ledger, _, desk = parts(state)
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    order = Order("bank-a", grant(calls=5), "stats", "call", "req", account, Amount.cost(0.5))

    def refuse(tx: Tx) -> None:
        raise InvalidArgument("the product's own admission says no")

    before = count(state, "audit_log")
    with pytest.raises(InvalidArgument):
        desk.reserve(order, admit=refuse)
    assert ledger.balance(account).spent == Amount.limit(0, 0)
    assert (count(state, "charges"), count(state, "usage"), count(state, "quota_use")) == (0, 0, 0)
    assert count(state, "audit_log") == before


def test_release_writes_settlement_receipt_and_registry_together(state: State) -> None:
    audit, ledger, _, desk = parts(state)
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    ticket = desk.reserve(Order("bank-a", grant(), "stats", "call", "req", account,
                                Amount.cost(0.5)))  # fmt: skip
    entry = desk.release(
        ticket, receipt_for(ticket.release_id), ReleasedArtifact("statistics", {"x": 1})
    )
    assert entry.record["release_id"] == ticket.release_id
    assert entry.record["epsilon_micro"] == 500_000 and entry.record["accountant"] == "basic"
    with state.read() as tx:
        (settled,) = tx.execute("SELECT state FROM charges").fetchone()
        registered = tx.execute("SELECT COUNT(*) FROM releases").fetchone()[0]
    assert (settled, registered) == ("released", 1)
    with pytest.raises(AlreadySettled):
        desk.fail(ticket, "too late")
    with state.read() as tx:
        assert verify_chain(tx).ok


def test_a_call_whose_charge_a_sweep_settled_is_unavailable_and_releases_nothing(
    state: State,
) -> None:
    """Another replica took this one for dead and failed its open charge: the call cannot
    complete (UNAVAILABLE, never INTERNAL or a second settlement), and nothing is released."""
    _, ledger, _, desk = parts(state)
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    tickets = [desk.reserve(Order("bank-a", grant(), "stats", "call", "req", account,
                                  Amount.cost(0.1))) for _ in range(2)]  # fmt: skip
    with state.read() as tx:
        (owner,) = tx.execute("SELECT DISTINCT owner FROM charges").fetchone()
    assert ledger.recover(owner) == 2  # the sweep (its owner's rows only)
    with pytest.raises(Unavailable) as fenced:
        desk.release(tickets[0], receipt_for(tickets[0].release_id),
                     ReleasedArtifact("statistics", {"x": 1}))  # fmt: skip
    assert fenced.value.reason == FENCED
    with pytest.raises(Unavailable), desk.failing(tickets[1]):
        raise ValueError("the product broke after the sweep")
    with state.read() as tx:
        settled = tx.execute("SELECT state, reason FROM charges").fetchall()
        assert verify_chain(tx).ok
    assert settled == [("failed", REPLICA_DIED)] * 2
    assert count(state, "releases") == 0


def test_a_failed_ticket_without_budget_is_not_billed(state: State) -> None:
    _, _, metering, desk = parts(state)
    ticket = desk.reserve(Order("bank-a", grant(), "stats", "call", "req"), durable=False)
    with pytest.raises(ValueError, match="data"), desk.failing(ticket):
        raise ValueError("data-dependent work failed")
    with state.read() as tx:
        (voided,) = tx.execute("SELECT voided_at FROM usage").fetchone()
    assert voided is not None
    assert count(state, "releases") == 0


def test_a_model_saved_in_a_rolled_back_transaction_leaves_nothing(state: State) -> None:
    audit = AuditChain(state)
    jobs, models = JobStore(state, audit), ModelRegistry(state, audit)
    job = jobs.create(principal="a", product="p", dataset="d", spec={}, release_id="r")
    model = {"family": "lr", "features": [], "weights": [], "intercept": 0.0, "scaling": {}}
    with pytest.raises(RuntimeError), state.write() as tx:
        models.save_model(owner="a", product="p", job_id=job.job_id, model=model, metrics={},
                          conn=tx)  # fmt: skip
        raise RuntimeError("the job's transition failed")
    assert models.list_models("a") == []


# --- several processes (replicas) on one state -----------------------------------------------


def test_several_budgets_in_one_reservation_are_exact_under_concurrency(state: State) -> None:
    """Each reservation locks its principal's row, then the dataset's: always in that order."""
    _, ledger, _, _ = parts(state)

    def account(i: int) -> Account:
        return Account(f"p{i % 4}", "enterprises", Amount.limit(1.0, 1e-6),
                       cap=Amount.limit(2.0, 1e-6))  # fmt: skip

    results = run_together(
        48,
        lambda i: ledger.reserve(
            account(i), product="p", cost=Amount.cost(0.1), request_id=f"{i}"
        ),  # fmt: skip
    )
    assert all(isinstance(r, BudgetExhausted) for r in results if isinstance(r, Exception))
    assert sum(not isinstance(r, Exception) for r in results) == 20
    for p in range(4):
        assert ledger.balance(account(p)).spent.epsilon_micro <= 1_000_000
    cap_remaining = ledger.balance(account(0)).cap_remaining
    assert cap_remaining is not None and cap_remaining.epsilon_micro == 0


def test_forty_reservations_from_four_processes_fit_exactly_ten(
    state: State, state_location: StateLocation
) -> None:
    from statekit import in_processes, reserve_tenths

    granted = in_processes(reserve_tenths, [(state_location, w, 10) for w in range(4)])
    assert sum(sum(g) for g in granted) == 10
    assert count(state, "charges") == 10
    with state.read() as tx:
        assert verify_chain(tx).ok


def test_appends_from_three_processes_form_one_verifiable_chain(
    state: State, state_location: StateLocation
) -> None:
    from statekit import append_entries, in_processes

    appended = in_processes(append_entries, [(state_location, w, 40) for w in range(3)])
    assert appended == [40, 40, 40]
    with state.read() as tx:
        result = verify_chain(tx)
    assert result.ok and result.length == 120
    assert count(state, "audit_log") == 120


def test_a_process_alone_on_the_state_may_settle_left_over_work(state: State) -> None:
    with state.startup() as alone:
        assert alone


# --- reports read the same on every backend ---------------------------------------------------


def test_usage_revenue_and_audit_queries_read_the_same(state: State) -> None:
    from zone.admin.audit_query import AuditFilter, query_audit
    from zone.metering.reports import Period

    audit, _, metering, desk = parts(state)
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    released = desk.reserve(Order("bank-a", grant(), "stats", "call", "r1", account,
                                  Amount.cost(0.1)))  # fmt: skip
    desk.release(released, receipt_for(released.release_id), ReleasedArtifact("statistics", {}))
    failed = desk.reserve(Order("bank-a", grant(), "stats", "call", "r2", account,
                                Amount.cost(0.1)))  # fmt: skip
    desk.fail(failed, "data-dependent work failed")
    (usage,) = metering.usage(Period())
    assert (usage.calls, usage.jobs, usage.unbilled, usage.amount_micro) == (1, 0, 1, 50_000)
    assert isinstance(usage.amount_micro, int)
    assert [(r.provider, r.amount_micro, r.charges) for r in metering.revenue(Period())] == [
        ("market", 25_000, 1), ("tax", 25_000, 1)
    ]  # fmt: skip
    page = query_audit(state, AuditFilter(principal="bank-a", kind="release"))
    assert [row.seq for row in page.rows] == [e.seq for e in audit.entries() if e.kind == "release"]
    assert query_audit(state, AuditFilter(product="stats", kind="metering.charge")).rows


def test_group_committed_appends_beside_desk_writes_form_one_chain(state: State) -> None:
    """Threads appending on their own (group commit) and inside desk transactions: one chain."""
    audit, _, _, desk = parts(state)
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    acked: list[tuple[int, str]] = []
    lock = threading.Lock()

    def appender(t: int) -> None:
        for i in range(25):
            entry = audit.append("rpc", {"t": t, "i": i}, durable=False)
            with lock:
                acked.append((entry.seq, entry.hash))

    def reserver() -> None:
        for i in range(5):
            desk.reserve(Order("bank-a", grant(), "stats", "call", f"r{i}", account,
                               Amount.cost(0.01)))  # fmt: skip

    threads = [threading.Thread(target=appender, args=(t,)) for t in range(6)]
    threads.append(threading.Thread(target=reserver))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with state.read() as tx:
        assert verify_chain(tx).ok
        stored = dict(tx.execute("SELECT seq, hash FROM audit_log").fetchall())
    assert len(acked) == 150 and all(stored[seq] == digest for seq, digest in acked)
