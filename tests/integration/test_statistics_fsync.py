"""A statistics query pays one fsync: its release's, which makes its reservation durable too.

The reservation commits (binding every concurrent reservation) before any noise is drawn, but
is not fsynced on its own: the release commits durably before the reply leaves, and the log
is replayed as a prefix, so no OS crash can keep the release (or anything the caller saw)
without the charge. Observed at the OS boundary: the fsync of the log during one query began
when the charge was already settled ``released``; a failed query's fsync covers its
``failed`` settlement. A privacy charge that is not settled in its call still reserves
durably (the desk refuses otherwise).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from zonekit import client, make_zone_dir, running_zone

from zone.client import ZoneClientError
from zone.client.stats import count
from zone.ledger import Account, Amount
from zone.products.statistics import service
from zone.release.desk import Order
from zone.server.app import RunningZone

STATS = "enterprise-stats"


@pytest.fixture
def zone(tmp_path: Path) -> Iterator[RunningZone]:
    with running_zone(make_zone_dir(tmp_path / "zone", rows=500)) as started:
        yield started


def _watch_fsyncs(monkeypatch: pytest.MonkeyPatch, state_db: Path) -> list[dict[str, str]]:
    """Charges (release id -> state) committed at the start of every fsync from now on."""
    seen: list[dict[str, str]] = []
    real_fsync = os.fdatasync

    def fsync(fd: int) -> None:
        with sqlite3.connect(state_db) as watcher:
            seen.append(dict(watcher.execute("SELECT release_id, state FROM charges")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fdatasync", fsync)
    return seen


def test_one_fsync_per_query_and_it_covers_the_settled_charge(
    zone: RunningZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    with client(zone, "bank") as bank:
        bank.query_statistics(STATS, [count()], epsilon=0.1)  # warm: connections, caches
        seen = _watch_fsyncs(monkeypatch, zone.services.config.state_db)
        release = bank.query_statistics(STATS, [count()], epsilon=0.1)
    assert len(seen) == 1
    assert seen[0][release.release_id] == "released"


def test_a_failed_query_fsyncs_its_failed_settlement(
    zone: RunningZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the query broke after the charge")

    monkeypatch.setattr(service, "execute", broken)
    seen = _watch_fsyncs(monkeypatch, zone.services.config.state_db)
    with client(zone, "bank") as bank, pytest.raises(ZoneClientError):
        bank.query_statistics(STATS, [count()], epsilon=0.1)
    assert len(seen) == 1
    assert list(seen[0].values()) == ["failed"]


def test_a_privacy_charge_not_settled_in_its_call_reserves_durably(zone: RunningZone) -> None:
    order = Order(
        principal="bank-a",
        grant=zone.services.policies.current.grants_of("bank-a")[0],
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
