"""A worker reads the dataset version its job was planned on, from its own store's manifest."""

from __future__ import annotations

from pathlib import Path

from zonekit import EXAMPLES, generate_csv

from zone.catalog import import_dataset, load_metadata
from zone.catalog.versions import retire_version, set_active, sweep
from zone.worker.runner import version_file


def test_any_kept_version_is_found_and_a_dropped_or_unknown_one_is_not(tmp_path: Path) -> None:
    store = tmp_path / "datasets"
    meta = load_metadata(EXAMPLES / "enterprises.meta.yaml")
    first, second = (
        import_dataset(store, generate_csv(tmp_path / f"{n}.csv", rows=120, seed=n),
                       "enterprises", meta, replace_existing=True).info
        for n in (1, 2)
    )  # fmt: skip
    assert version_file(store, "enterprises", second.version) == second.path  # active
    assert version_file(store, "enterprises", first.version) == first.path  # kept, not active
    assert version_file(store, "enterprises", "sha256:" + "0" * 64) is None
    assert version_file(store, "enterprises", "") is None
    assert version_file(store, "firms", second.version) is None
    assert version_file(tmp_path / "no-store", "enterprises", second.version) is None
    set_active(store, "enterprises", second.version)
    retire_version(store, "enterprises", first.version)
    assert sweep(store, in_use=set()) == [first.version]
    assert version_file(store, "enterprises", first.version) is None  # dropped
