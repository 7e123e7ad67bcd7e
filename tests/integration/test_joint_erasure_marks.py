"""The erasure mark (``cohorts.erasing_at``, migration 0020): claims refused, stalls finished.

An erasure commits its mark before it looks for jobs reading the cohort, so that a replica
accepting a job on the cohort meanwhile is refused. A replica that dies after the mark leaves
the cohort stored but unclaimable: any replica's retention sweep finishes the erasure later.
Real server in-process (SQLite: the same SQL runs on PostgreSQL in the replica tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from jointkit import PRODUCT, cohort_rows, make_joint_zone, schema, to_csv
from zonekit import running_zone, target

from zone.client import FailedPreconditionError, ZoneClient
from zone.products.joint.service import STALLED_ERASURE
from zone.products.joint.store import now_utc
from zone.server.app import RunningZone

ROWS = 300


@pytest.fixture
def zone_and_tokens(tmp_path: Path) -> Iterator[tuple[RunningZone, dict[str, str]]]:
    config, tokens = make_joint_zone(tmp_path / "zone", rows=1000)
    with running_zone(config) as zone:
        yield zone, tokens


def _mark(zone: RunningZone, upload_id: str, ago: timedelta) -> None:
    """What an erasure's first step leaves when its replica dies right after it."""
    marked = (now_utc() - ago).isoformat(timespec="microseconds")
    with zone.services.store.write() as tx:
        tx.execute("UPDATE cohorts SET erasing_at = ? WHERE upload_id = ?", (marked, upload_id))


def test_a_marked_cohort_cannot_be_claimed_and_a_stalled_erasure_is_finished(
    zone_and_tokens: tuple[RunningZone, dict[str, str]],
) -> None:
    zone, tokens = zone_and_tokens
    data = to_csv(cohort_rows(zone.services.config.source, ROWS))
    with ZoneClient(target(zone), token=tokens["opa"], timeout=30) as bank:
        record = bank.upload_cohort(data, schema())
        _mark(zone, record.upload_id, timedelta(seconds=1))
        with pytest.raises(FailedPreconditionError, match="being erased"):
            bank.train_joint(
                PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, epochs=1, batch_size=64
            )
        assert zone.services.joint.sweep() == 0  # a recent mark: its eraser may still run
        assert bank.describe_cohort(record.upload_id).state == "stored"
        _mark(zone, record.upload_id, STALLED_ERASURE + timedelta(seconds=1))
        assert zone.services.joint.sweep() == 1
        erased = bank.describe_cohort(record.upload_id)
        assert (erased.state, erased.erase_trigger) == ("erased", "resumed")
        assert bank.get_receipt(erased.erasure_id).receipt["kind"] == "cohort.erasure"
    cohort_file = zone.services.config.joint_config.cohorts_dir / f"{record.upload_id}.parquet"
    assert not cohort_file.exists()
    with zone.services.store.read() as tx:
        charges = tx.execute("SELECT COUNT(*) FROM charges").fetchone()[0]
    assert charges == 0  # the refused submission reserved nothing
