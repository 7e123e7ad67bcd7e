"""CatalogService through a real server on loopback, real DuckDB and SQLite files."""

from __future__ import annotations

import json

import pytest
from zonekit import client

from zone.client import PermissionDeniedError
from zone.server.app import RunningZone


def test_operator_sees_granted_dataset_with_rounded_count(shared_zone: RunningZone) -> None:
    with client(shared_zone, "bank") as bank:
        datasets = bank.list_datasets()
    assert [d.name for d in datasets] == ["enterprises"]
    ds = datasets[0]
    assert ds.row_count_granularity == 100
    assert ds.approx_row_count == 2000  # 2,000 rows rounded to the nearest 100
    assert ds.version.startswith("sha256:") and len(ds.version) == 7 + 64
    assert ds.provider


def test_describe_dataset_shows_schema_and_hides_l4_detail(shared_zone: RunningZone) -> None:
    with client(shared_zone, "bank") as bank:
        desc = bank.describe_dataset("enterprises")
    columns = {c.name: c for c in desc.columns}
    assert desc.entity_key == "uscc"
    assert columns["district"].classification == "L1"
    assert len(columns["district"].domain) == 16
    assert columns["founded_year"].bounds == (1980.0, 2025.0)
    l4 = [c for c in desc.columns if c.classification == "L4"]
    assert [c.name for c in l4] == ["legal_rep_id"]
    assert l4[0].bounds is None and l4[0].domain == ()
    assert set(desc.products) == {"enterprise-stats", "enterprise-default-lr", "capital-match"}


def test_catalog_never_returns_sample_values(shared_zone: RunningZone) -> None:
    """No reply carries a key or an L3/L4 value from the data."""
    rows = shared_zone.services.catalog.cursor().execute(
        'SELECT uscc, legal_rep_id FROM "ds_enterprises" LIMIT 50'
    )
    secrets = [v for row in rows.fetchall() for v in row]
    with client(shared_zone, "bank") as bank:
        text = repr(bank.describe_dataset("enterprises")) + repr(bank.list_datasets())
        text += "".join(repr(bank.describe_product(p.id)) for p in bank.list_products())
    assert secrets and not any(s in text for s in secrets)


def test_researcher_sees_only_its_products(shared_zone: RunningZone) -> None:
    with client(shared_zone, "researcher") as researcher:
        assert [p.id for p in researcher.list_products()] == ["enterprise-stats"]
        assert researcher.describe_dataset("enterprises").products == ("enterprise-stats",)
        with pytest.raises(PermissionDeniedError):
            researcher.describe_product("enterprise-default-lr")


def test_describe_product_carries_parameters_and_grant(shared_zone: RunningZone) -> None:
    with client(shared_zone, "bank") as bank:
        product = bank.describe_product("enterprise-default-lr")
    assert product.summary.kind == "training"
    assert "default_flag" in product.columns
    assert product.parameters["family"] == "logistic_regression"
    assert product.grant is not None
    assert product.grant.budget == {"enterprises": (5.0, 1e-5)}
    assert product.grant.per_job_epsilon == 2.0
    assert product.grant.calls_per_day == 10000
    assert product.grant.currency == "CNY"


def test_unknown_and_ungranted_names_are_indistinguishable(shared_zone: RunningZone) -> None:
    with client(shared_zone, "researcher") as researcher:
        with pytest.raises(PermissionDeniedError) as unknown:
            researcher.describe_dataset("no_such_dataset")
        with pytest.raises(PermissionDeniedError) as other:
            researcher.describe_product("capital-match")
    assert unknown.value.message == "dataset not granted"
    assert other.value.message == "product not granted"


def test_admin_sees_everything(shared_zone: RunningZone) -> None:
    with client(shared_zone, "admin") as admin:
        assert len(admin.list_products()) == 3
        assert [p.id for p in admin.list_products(dataset="enterprises")]
        assert admin.list_products(dataset="other") == []
        assert admin.describe_product("capital-match").grant is None


def test_every_call_is_audited(shared_zone: RunningZone) -> None:
    before, _ = shared_zone.services.audit.head()
    with client(shared_zone, "bank") as bank:
        bank.list_datasets()
        bank.describe_product("capital-match")
    entries = shared_zone.services.audit.entries(since_seq=before)
    rpc = [e.record for e in entries if e.kind == "rpc"]
    assert [r["method"] for r in rpc][-2:] == [
        "/zone.v1.CatalogService/ListDatasets",
        "/zone.v1.CatalogService/DescribeProduct",
    ]
    last = rpc[-1]
    assert last["principal"] == "bank-a" and last["decision"] == "allow"
    assert last["product"] == "capital-match" and last["status"] == "OK"
    assert last["policy_digest"] == shared_zone.services.serving.current.digest


def test_quality_report_is_shown_to_admins_only(shared_zone: RunningZone) -> None:
    with client(shared_zone, "admin") as admin:
        report = json.loads(admin.describe_dataset("enterprises").quality_report_json)
    with client(shared_zone, "bank") as bank:
        assert bank.describe_dataset("enterprises").quality_report_json == ""
    assert report["format"] == "zone.quality.v1" and report["outcome"] == "accepted"
    assert report["rows"] == 2000
    district = next(c for c in report["columns"] if c["name"] == "district")
    assert district["violations"] == {"control": 0, "length": 0, "domain": 0}
    info = shared_zone.services.catalog.get("enterprises")
    assert info.report.to_json() == json.dumps(report, sort_keys=True, separators=(",", ":"))


def test_open_data_fields_are_in_the_catalog(shared_zone: RunningZone) -> None:
    with client(shared_zone, "bank") as bank:
        assert bank.list_datasets()[0].open_level == "conditional"
        open_data = bank.describe_dataset("enterprises").open_data
    assert open_data is not None
    assert (open_data.open_level, open_data.registration_id) == ("conditional", "DEMO-DA-2026-0001")
    assert open_data.responsible_provider.startswith("Municipal market supervision")
    assert open_data.registered_on == "2026-01-15"
    assert open_data.certificate_digest.startswith("sha256:")
