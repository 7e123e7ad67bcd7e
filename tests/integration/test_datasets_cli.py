"""``zone datasets ...`` end to end: the quality report printed and audited, versions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from zonekit import EXAMPLES, generate_csv, make_zone_dir

from zone.audit import AuditChain
from zone.catalog import list_datasets
from zone.state import StateStore

META = str(EXAMPLES / "enterprises.meta.yaml")


def zone_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zone.cli", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def import_records(root: Path) -> list[dict[str, object]]:
    store = StateStore.open(root / "state.sqlite")
    try:
        return [dict(e.record) for e in AuditChain(store).entries() if e.kind == "dataset.import"]
    finally:
        store.close()


def test_import_prints_the_report_and_audits_its_digest(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=300)
    first = list_datasets(tmp_path / "datasets.duckdb")[0]
    source = generate_csv(tmp_path / "v2.csv", rows=200, seed=11)
    lines = source.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace(lines[1].split(",")[1], "Atlantis", 1),
                              *lines[2:]]) + "\n")  # fmt: skip
    refused = zone_cli("datasets", "import", str(bad), "--name", "enterprises", "--meta", META,
                       "--config", str(config), "--replace")  # fmt: skip
    assert refused.returncode == 1
    assert "REFUSED" in refused.stdout and "domain 1" in refused.stdout
    assert "column 'district': 1 domain (on_violation: refuse)" in refused.stderr
    assert "Atlantis" not in refused.stdout + refused.stderr
    exists = zone_cli("datasets", "import", str(source), "--name", "enterprises", "--meta", META,
                      "--config", str(config))  # fmt: skip
    assert exists.returncode == 1 and "--replace" in exists.stderr
    done = zone_cli("datasets", "import", str(source), "--name", "enterprises", "--meta", META,
                    "--config", str(config), "--replace")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "accepted" in done.stdout and "200 rows" in done.stdout
    second = list_datasets(tmp_path / "datasets.duckdb")[0]
    assert second.version != first.version and second.row_count == 200
    records = import_records(tmp_path)
    assert [r["outcome"] for r in records] == ["refused", "accepted"]
    assert records[0]["report_digest"] in refused.stdout
    assert records[1] == {
        "dataset": "enterprises", "outcome": "accepted", "version": second.version,
        "previous_version": first.version, "rows": 200, "activated": True,
        "report_digest": second.report.digest,
    }  # fmt: skip


def test_offline_activation_and_versions_listing(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=300)
    first = list_datasets(tmp_path / "datasets.duckdb")[0].version
    source = generate_csv(tmp_path / "v2.csv", rows=100, seed=4)
    staged = zone_cli("datasets", "import", str(source), "--name", "enterprises", "--meta", META,
                      "--config", str(config), "--replace", "--stage")  # fmt: skip
    assert staged.returncode == 0 and "kept, not active" in staged.stdout
    assert list_datasets(tmp_path / "datasets.duckdb")[0].version == first
    second = staged.stdout.split("version ")[-1].split()[0]
    done = zone_cli("datasets", "activate", "enterprises", second[7:20], "--offline",
                    "--config", str(config))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list_datasets(tmp_path / "datasets.duckdb")[0].version == second
    listing = zone_cli("datasets", "versions", "enterprises", "--config", str(config))
    rows = listing.stdout.splitlines()
    assert first in rows[1] and "kept" in rows[1] and second in rows[2] and "active" in rows[2]
    store = StateStore.open(tmp_path / "state.sqlite")
    try:
        kinds = [e.kind for e in AuditChain(store).entries()]
    finally:
        store.close()
    assert kinds[-1] == "dataset.activate"
