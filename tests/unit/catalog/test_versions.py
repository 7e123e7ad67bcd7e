"""Versions of a dataset in the store: activation, retirement, dropping files, crash leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from zone.catalog import DatasetCatalog, DatasetMeta, ImportResult, import_dataset, list_datasets
from zone.catalog._manifest import read_manifest
from zone.catalog.versions import (
    list_versions,
    publish_served,
    resolve_version,
    retire_version,
    retired_versions,
    set_active,
    sweep,
    withdraw_served,
)
from zone.errors import FailedPrecondition, NotFound

HEADER = "uscc,district,employees,capital,listed,founded\n"
Write = Callable[[str, str], Path]


def versions(store: Path, write: Write, meta: DatasetMeta, n: int = 3) -> list[ImportResult]:
    """``n`` versions of ``firms`` (each one more row), the last one active."""
    results = []
    for i in range(n):
        rows = "".join(f"A{j},east,{j},1.0,true,\n" for j in range(i + 1))
        source = write(f"v{i}.csv", HEADER + rows)
        results.append(import_dataset(store, source, "firms", meta, replace_existing=i > 0))
    return results


def test_activate_by_prefix_and_roll_back(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    v = versions(store, write, small_meta)
    assert list_datasets(store)[0].version == v[2].info.version
    set_active(store, "firms", v[0].info.version[7:19])  # a 12-digit prefix
    assert list_datasets(store)[0].row_count == 1
    entry, served = list_versions(store, "firms")
    assert [x.version for x in entry.versions] == [r.info.version for r in v]
    assert entry.active == v[0].info.version and served == frozenset()
    for bad in ("abc", "sha256:" + "0" * 64, "nope"):
        with pytest.raises(NotFound):
            resolve_version(read_manifest(store), "firms", bad)
    with pytest.raises(NotFound, match="no dataset 'other'"):
        set_active(store, "other", v[0].info.version)


def test_retire_refuses_the_active_and_the_served_version(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    v = versions(store, write, small_meta)
    with pytest.raises(FailedPrecondition, match="active or served"):
        retire_version(store, "firms", v[2].info.version)
    publish_served(store, {"firms": v[1].info.version})  # this process "serves" v1
    with pytest.raises(FailedPrecondition, match="active or served"):
        retire_version(store, "firms", v[1].info.version)
    withdraw_served(store)
    retired = retire_version(store, "firms", v[1].info.version)
    assert retired.retired and retired_versions(store, "firms") == {v[1].info.version}
    with pytest.raises(FailedPrecondition, match="retired"):
        set_active(store, "firms", v[1].info.version)
    with pytest.raises(FailedPrecondition, match="retired"):
        retire_version(store, "firms", v[1].info.version)


def test_sweep_drops_retired_files_once_no_job_reads_them(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    v = versions(store, write, small_meta)
    for old in v[:2]:
        retire_version(store, "firms", old.info.version)
    assert sweep(store, in_use={v[0].info.version}) == [v[1].info.version]
    assert v[0].info.path.is_file() and not v[1].info.path.exists()
    assert sweep(store, in_use=set()) == [v[0].info.version]
    assert not v[0].info.path.exists() and v[2].info.path.is_file()
    entry, _ = list_versions(store, "firms")
    assert [(x.retired, x.dropped) for x in entry.versions] == [
        (True, True), (True, True), (False, False),
    ]  # fmt: skip
    again = import_dataset(store, write("v0.csv", HEADER + "A0,east,0,1.0,true,\n"), "firms",
                           small_meta, replace_existing=True)  # fmt: skip
    assert again.info.version == v[0].info.version and again.info.path.is_file()
    entry, _ = list_versions(store, "firms")
    assert [x.version for x in entry.versions].count(again.info.version) == 1


def test_a_served_version_is_never_dropped(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    v = versions(store, write, small_meta, n=2)
    retire_version(store, "firms", v[0].info.version)
    manifest = json.loads((store / "catalog.json").read_text())
    publish_served(store, {"firms": v[0].info.version})  # a zone still serving the old one
    assert sweep(store, in_use=set()) == []
    withdraw_served(store)
    assert json.loads((store / "catalog.json").read_text()) == manifest
    assert sweep(store, in_use=set()) == [v[0].info.version]


def test_served_file_of_a_dead_process_is_ignored(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    v = versions(store, write, small_meta, n=2)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (store / "served").mkdir(exist_ok=True)
    (store / "served" / f"{int(dead.stdout)}.json").write_text(
        json.dumps({"pid": int(dead.stdout), "versions": {"firms": v[0].info.version}})
    )
    retire_version(store, "firms", v[0].info.version)


def test_a_version_another_live_replica_serves_is_kept(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    """Two zone processes share the store: one withdrawing does not free the other's version."""
    store = tmp_path / "store"
    v = versions(store, write, small_meta, n=3)
    other = os.getppid()  # a live process standing for another replica
    (store / "served").mkdir(exist_ok=True)
    (store / "served" / f"{other}.json").write_text(
        json.dumps({"pid": other, "versions": {"firms": v[0].info.version}})
    )
    publish_served(store, {"firms": v[1].info.version})
    withdraw_served(store)  # this replica stops; the other still serves v0
    with pytest.raises(FailedPrecondition):
        retire_version(store, "firms", v[0].info.version)
    retire_version(store, "firms", v[1].info.version)
    assert sweep(store, in_use=set()) == [v[1].info.version]


IMPORT_AND_WAIT = """
import sys, time
from pathlib import Path
import zone.catalog._importing as imp
real = imp.write_version
def slow(job, target, temp_dir, scan):
    record = real(job, target, temp_dir, scan)
    print("written", flush=True)
    time.sleep(60)
    return record
imp.write_version = slow
from zone.catalog import import_dataset, DatasetMeta
meta = DatasetMeta.from_json(Path(sys.argv[3]).read_text())
import_dataset(Path(sys.argv[1]), Path(sys.argv[2]), "firms", meta, replace_existing=True)
"""


def test_kill_9_during_an_import_leaves_the_store_as_it_was(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    first = versions(store, write, small_meta, n=1)[0]
    manifest = (store / "catalog.json").read_text()
    meta_file = write("meta.json", small_meta.to_json())
    source = write("v2.csv", HEADER + "B1,west,5,1.0,true,\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", IMPORT_AND_WAIT, str(store), str(source), str(meta_file)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "written"
    assert list(store.glob("firms/.*.partial"))  # the new version is complete, not yet renamed
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    assert (store / "catalog.json").read_text() == manifest
    with DatasetCatalog.open(store) as catalog:
        assert catalog.get("firms") == first.info
    second = import_dataset(store, source, "firms", small_meta, replace_existing=True)
    assert not list(store.glob("firms/.*"))  # the next import removed the leftovers
    assert list_datasets(store)[0].version == second.info.version


def test_an_orphan_version_file_is_removed_by_the_next_import(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    """Killed between the file's rename and the manifest's: the file is unlisted."""
    store = tmp_path / "store"
    first = versions(store, write, small_meta, n=1)[0]
    orphan = store / "firms" / ("f" * 64 + ".duckdb")
    orphan.write_bytes(first.info.path.read_bytes())
    source = write("v2.csv", HEADER + "B1,west,5,1.0,true,\n")
    import_dataset(store, source, "firms", small_meta, replace_existing=True)
    assert not orphan.exists() and first.info.path.is_file()
