"""Models follow their data: a kept model stops scoring when another dataset version is served.

Against a real server: bank-a's kept model, trained on version 1 and approved by an
administrator, scores; version 2 is imported while the zone serves and activated online; Score
with the model is then refused (FAILED_PRECONDITION naming both versions) until the
administrator reviews it (the review shows both versions) and approves it again, through the
same review and approval as the first time. Rolling back to version 1 needs no new approval.
A model that is not the caller's still answers NOT_FOUND, whatever the versions, and an
approval recorded before versions were (migration 0016: no version) holds on the training
version only.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from scorekit import save_kept_model
from zonekit import EXAMPLES, bulk_consents, client, generate_csv, make_zone_dir, running_zone

from zone.catalog import import_dataset, list_datasets, load_metadata
from zone.client import FailedPreconditionError, NotFoundError
from zone.client.he import HEKeys
from zone.server.app import RunningZone

PRODUCT = "capital-match"
WEIGHTS = {"employees": -1.0, "tax_paid": -1.0, "penalties": 1.0}
BOUNDS = {"employees": (0, 5000), "tax_paid": (0, 50000), "penalties": (0, 20)}


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningZone]:
    config = make_zone_dir(tmp_path_factory.mktemp("model-versions"), rows=600)
    with running_zone(config) as running:
        yield running


@pytest.fixture(scope="module")
def ckks(zone: RunningZone) -> HEKeys:
    bank = client(zone, "bank")
    keys = bank.he.new_keys("ckks-8192")
    bank.register_key(keys)
    return keys


def kept(zone: RunningZone, owner: str, trained_on: str) -> str:
    """A kept model as a training worker leaves it, its job naming the version it read."""
    columns = {c: BOUNDS[c] for c in WEIGHTS}
    return save_kept_model(zone, owner, columns, list(WEIGHTS.values()), trained_on=trained_on)[0]


def score(zone: RunningZone, ckks: HEKeys, model_id: str, subject: str) -> str:
    ids = bulk_consents(zone, "bank-a", PRODUCT, [subject], "versions", max_uses=1)
    (result,) = client(zone, "bank").score_batch(
        PRODUCT, ckks, [subject], {}, purpose="versions", model_id=model_id, consents=ids
    )
    return result.status


def subject_of(source: Path, row: int = 0) -> str:
    """A subject of the file (each test its own: a subject may be checked 3 times a day)."""
    with source.open() as handle:
        return list(csv.DictReader(handle))[row]["uscc"]


def new_version(zone: RunningZone, rows: int) -> tuple[str, str]:
    """Import a version beside the served one (not activated); its version and a subject."""
    store = Path(zone.services.config.datasets_db)
    source = generate_csv(store.parent / f"v{rows}.csv", rows=rows, seed=rows)
    meta = load_metadata(EXAMPLES / "enterprises.meta.yaml")
    done = import_dataset(store, source, "enterprises", meta, replace_existing=True,
                          activate=False)  # fmt: skip
    return done.info.version, subject_of(source)


def test_a_model_from_the_old_version_is_refused_until_approved_again(
    zone: RunningZone, ckks: HEKeys
) -> None:
    store = Path(zone.services.config.datasets_db)
    v1 = list_datasets(store)[0].version
    subject = subject_of(store.parent / "enterprises.csv")
    admin = client(zone, "admin")
    model_id = kept(zone, "bank-a", v1)
    review = admin.review_model(model_id, PRODUCT)
    assert review.trained_on_version == review.serving_version == v1
    first = admin.decide_model(model_id, PRODUCT, approve=True, reason="balanced, DP-trained")
    assert first.dataset_version == v1
    assert score(zone, ckks, model_id, subject) == "SCORED"

    v2, subject2 = new_version(zone, 500)
    admin.activate_dataset("enterprises", v2)
    with pytest.raises(FailedPreconditionError) as refused:
        score(zone, ckks, model_id, subject)
    assert v1 in refused.value.message and v2 in refused.value.message
    assert "approve it again" in refused.value.message
    stranger = kept(zone, "researcher-x", v1)  # not bank-a's: NOT_FOUND before any version talk
    with pytest.raises(NotFoundError):
        score(zone, ckks, stranger, subject)

    review = admin.review_model(model_id, PRODUCT)
    assert (review.trained_on_version, review.serving_version) == (v1, v2)
    assert review.decision.dataset_version == v1
    again = admin.decide_model(model_id, PRODUCT, approve=True, reason="checked against v2")
    assert again.dataset_version == v2
    assert score(zone, ckks, model_id, subject2) == "SCORED"

    admin.activate_dataset("enterprises", v1)  # rollback: the training version needs nothing new
    assert score(zone, ckks, model_id, subject) == "SCORED"
    records = [e.record for e in zone.services.audit.entries(limit=10_000)
               if e.kind == "model.approved" and e.record["model_id"] == model_id]  # fmt: skip
    assert [r["dataset_version"] for r in records] == [v1, v2]


def test_an_approval_without_a_version_holds_on_the_training_version_only(
    zone: RunningZone, ckks: HEKeys
) -> None:
    store = Path(zone.services.config.datasets_db)
    served = list_datasets(store)[0].version
    subject = subject_of(store.parent / "enterprises.csv", row=1)
    model_id = kept(zone, "bank-a", served)
    admin = client(zone, "admin")
    admin.decide_model(model_id, PRODUCT, approve=True, reason="before versions were recorded")
    with zone.services.store.write() as tx:  # as migration 0016 leaves an earlier approval
        tx.execute("UPDATE model_reviews SET dataset_version = '' WHERE model_id = ?", (model_id,))
    assert score(zone, ckks, model_id, subject) == "SCORED"
    other, _ = new_version(zone, 450)
    admin.activate_dataset("enterprises", other)
    try:
        with pytest.raises(FailedPreconditionError, match="approve it again"):
            score(zone, ckks, model_id, subject)
    finally:
        admin.activate_dataset("enterprises", served)
    assert score(zone, ckks, model_id, subject) == "SCORED"
