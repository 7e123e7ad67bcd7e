"""A statistics query pays one fsync: its release's, which makes its reservation durable too.

The reservation commits (binding every concurrent reservation) before any noise is drawn, but
is not fsynced on its own: the release commits durably before the reply leaves, and the log
is replayed as a prefix, so no OS crash can keep the release (or anything the caller saw)
without the charge. Observed by recording the state store's write transactions (the real
store, spied on): during one query the reservation commits without fsync, then the release
commits durably with the charge settled ``released``; a failed query's durable commit
settles it ``failed``. A privacy charge that is not settled in its call still reserves
durably (the desk refuses otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from zonekit import client, make_zone_dir, running_zone

from zone.client import ZoneClientError
from zone.client.stats import count
from zone.ledger import Account, Amount
from zone.products.statistics import service
from zone.release.desk import Order
from zone.server.app import RunningZone
from zone.state import StateStore
from zone.state.api import Tx

STATS = "enterprise-stats"


@pytest.fixture
def zone(tmp_path: Path) -> Iterator[RunningZone]:
    with running_zone(make_zone_dir(tmp_path / "zone", rows=500)) as started:
        yield started


def _watch_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, dict[str, str]]]:
    """(durable, charges committed: release id -> state) of every write transaction from now."""
    seen: list[tuple[bool, dict[str, str]]] = []
    real_write = StateStore.write

    @contextmanager
    def write(self: StateStore, *, durable: bool = True) -> Iterator[Tx]:
        with real_write(self, durable=durable) as tx:
            yield tx
        with self.read() as reader:
            seen.append((durable, dict(reader.execute("SELECT release_id, state FROM charges"))))

    monkeypatch.setattr(StateStore, "write", write)
    return seen


def test_one_durable_commit_per_query_and_it_settles_the_charge(
    zone: RunningZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    with client(zone, "bank") as bank:
        bank.query_statistics(STATS, [count()], epsilon=0.1)  # warm: connections, caches
        seen = _watch_writes(monkeypatch)
        release = bank.query_statistics(STATS, [count()], epsilon=0.1)
    states = [(durable, charges.get(release.release_id)) for durable, charges in seen]
    # reservation (no fsync), release (fsync); the call's rpc record is in the server's
    # journal, drained by non-durable transactions (which may also come before: the warm call's)
    known = [state for state in states if state[1] is not None]
    assert known[:2] == [(False, "reserved"), (True, "released")]
    assert all(state == (False, "released") for state in known[2:])


def test_a_failed_query_commits_its_failed_settlement_durably(
    zone: RunningZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the query broke after the charge")

    monkeypatch.setattr(service, "execute", broken)
    seen = _watch_writes(monkeypatch)
    with client(zone, "bank") as bank, pytest.raises(ZoneClientError):
        bank.query_statistics(STATS, [count()], epsilon=0.1)
    states = [(durable, list(charges.values())) for durable, charges in seen]
    known = [state for state in states if state[1]]  # not the drains of earlier rpc records
    assert known[:2] == [(False, ["reserved"]), (True, ["failed"])]
    assert all(state == (False, ["failed"]) for state in known[2:])


def test_a_privacy_charge_not_settled_in_its_call_reserves_durably(zone: RunningZone) -> None:
    order = Order(
        principal="bank-a",
        grant=zone.services.serving.current.grants_of("bank-a")[0],
        product=STATS,
        unit="call",
        request_id="r",
        account=Account("bank-a", "enterprises", limit=Amount.cost(5.0, 0.0)),
        cost=Amount.cost(0.1, 0.0),
    )
    with pytest.raises(ValueError, match="durably"):
        zone.services.desk.reserve(order, durable=False)
    with zone.services.store.read() as tx:
        assert tx.execute("SELECT count(*) FROM charges").fetchone()[0] == 0
