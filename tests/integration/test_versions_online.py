"""Dataset versions switched online, products reloaded hot, and crashes in between.

Real servers on loopback, real DuckDB and SQLite files; imports by the real CLI.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from zonekit import (
    EXAMPLES,
    TOKENS,
    add_principal,
    generate_csv,
    make_zone_dir,
    running_zone,
    serve_process,
    target,
)

from zone.catalog import list_datasets
from zone.catalog._manifest import read_manifest
from zone.client import FailedPreconditionError, ResourceExhaustedError, ZoneClient
from zone.client.health import wait_until_serving
from zone.client.stats import count
from zone.server.app import RunningZone

META = str(EXAMPLES / "enterprises.meta.yaml")
PRODUCT = "enterprise-stats"


def zone_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zone.cli", *args], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def import_version(config: Path, rows: int, *extra: str) -> str:
    """Import ``rows`` generated rows as a new kept version through the CLI; its version."""
    source = generate_csv(config.parent / f"v{rows}.csv", rows=rows, seed=rows)
    done = zone_cli("datasets", "import", str(source), "--name", "enterprises", "--meta", META,
                    "--config", str(config), "--replace", *extra)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return next(line.split("version ")[1].split()[0] for line in done.stdout.splitlines()
                if line.startswith("imported "))  # fmt: skip


def audit_records(zone: RunningZone, kind: str) -> list[dict[str, Any]]:
    found, seq = [], 0
    while page := zone.services.audit.entries(since_seq=seq, limit=1000):
        found += [dict(e.record) for e in page if e.kind == kind]
        seq = page[-1].seq
    return found


def lift_cap(config: Path) -> None:
    demo = config.parent / "policies" / "demo.yaml"
    demo.write_text(demo.read_text().replace("epsilon: 50.0,", "epsilon: 1.0e+9,"))


def test_switch_under_load_every_answer_from_exactly_one_version(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=1000)
    lift_cap(config)
    token = add_principal(config, "loader", epsilon=1e6)
    v1 = list_datasets(tmp_path / "zone" / "datasets.duckdb")[0].version
    answers: list[tuple[float, str, float]] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    with running_zone(config) as zone:

        def load() -> None:
            with ZoneClient(target(zone), token=token, timeout=30) as analyst:
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        release = analyst.query_statistics(PRODUCT, [count()], epsilon=1.0)
                    except BaseException as exc:  # noqa: BLE001 - every failure is reported
                        errors.append(exc)
                        return
                    noisy = release.results[0].cells[()][0]
                    answers.append((started, release.dataset_version, noisy))

        clients = [threading.Thread(target=load) for _ in range(4)]
        for thread in clients:
            thread.start()
        v2 = import_version(config, 400, "--stage")  # written while the zone serves
        with ZoneClient(target(zone), token=TOKENS["admin"], timeout=30) as admin:
            switched = admin.activate_dataset("enterprises", v2)
            after_switch = time.monotonic()
            time.sleep(1.0)
            before_rollback = time.monotonic()
            back = admin.activate_dataset("enterprises", v1[:16])  # rollback
            after_rollback = time.monotonic()
            time.sleep(0.5)
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
        activations = audit_records(zone, "dataset.activate")
    assert errors == []
    assert (switched.previous_version, switched.version) == (v1, v2)
    assert (back.previous_version, back.version) == (v2, v1)
    rows = {v1: 1000, v2: 400}
    assert {version for _, version, _ in answers} == {v1, v2}
    for started, version, noisy in answers:
        assert abs(noisy - rows[version]) < 30, (version, noisy)  # the data of that version
        if after_switch < started < before_rollback:
            assert version == v2  # began after the switch completed
        if started > after_rollback:
            assert version == v1
    assert len(answers) > 20
    assert [(a["version"], a["previous_version"], a["principal"]) for a in activations] == [
        (v2, v1, "zone-admin"), (v1, v2, "zone-admin"),
    ]  # fmt: skip


NEW_PRODUCT = """\
id: district-counts
kind: statistics
dataset: enterprises
description: Counts per district
columns: [district]
group_by: [district]
measures: [count]
max_epsilon_per_query: 0.5
"""


def test_products_reload_hot_with_the_policies_and_a_bad_set_is_refused(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=300)
    token = add_principal(config, "analyst", products=("enterprise-stats",))
    with running_zone(config) as zone:
        models, policy = tmp_path / "zone" / "models", tmp_path / "zone" / "policies"
        (models / "district-counts.yaml").write_text(NEW_PRODUCT)
        analyst_policy = (policy / "analyst.yaml").read_text()
        (policy / "analyst.yaml").write_text(
            analyst_policy.replace("[enterprise-stats]", "[enterprise-stats, district-counts]")
        )
        with ZoneClient(target(zone), token=TOKENS["admin"]) as admin:
            result = admin.reload_policies()
            assert result.products == 4
            with ZoneClient(target(zone), token=token) as analyst:
                release = analyst.query_statistics("district-counts", [count()], epsilon=0.5,
                                                   group_by=["district"])  # fmt: skip
                assert len(release.results[0].cells) == 16
                broken = NEW_PRODUCT.replace("district-counts", "broken")
                (models / "broken.yaml").write_text(broken.replace("[district]", "[ghost]"))
                with pytest.raises(FailedPreconditionError) as refused:
                    admin.reload_policies()
                assert "ghost" in " ".join(refused.value.details)
                # the running set stays: the new product still answers
                analyst.query_statistics("district-counts", [count()], epsilon=0.5)


def test_activate_refuses_an_invalid_set_and_a_retired_version(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=300)
    store = tmp_path / "zone" / "datasets.duckdb"
    v1 = list_datasets(store)[0].version
    meta = (EXAMPLES / "enterprises.meta.yaml").read_text()
    loose = tmp_path / "loose.meta.yaml"
    loose.write_text(meta.replace("    bounds: [0, 100000]\n", "", 1))  # registered_capital
    source = generate_csv(tmp_path / "v2.csv", rows=200, seed=2)
    done = zone_cli("datasets", "import", str(source), "--name", "enterprises", "--meta",
                    str(loose), "--config", str(config), "--replace", "--stage")  # fmt: skip
    assert done.returncode == 0, done.stderr
    v2 = read_manifest(store).datasets["enterprises"].versions[-1].version
    with running_zone(config) as zone, ZoneClient(target(zone), token=TOKENS["admin"]) as admin:
        with pytest.raises(FailedPreconditionError) as refused:
            admin.activate_dataset("enterprises", v2)
        assert "registered_capital" in " ".join(refused.value.details)
        assert zone.services.catalog.get("enterprises").version == v1
        retire = zone_cli("datasets", "retire", "enterprises", v1, "--config", str(config))
        assert retire.returncode == 1 and "active or served" in retire.stderr
        retire = zone_cli("datasets", "retire", "enterprises", v2, "--config", str(config))
        assert retire.returncode == 0, retire.stderr
        assert "file is deleted" in retire.stdout
        with pytest.raises(FailedPreconditionError, match="retired"):
            admin.activate_dataset("enterprises", v2)
        listing = zone_cli("datasets", "versions", "enterprises", "--config", str(config))
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert v1 in lines[1] and "active,served" in lines[1]
    assert v2 in lines[2] and "dropped" in lines[2]


def wait_for(address: str) -> None:
    wait_until_serving(address, timeout=30)


def served_version(address: str) -> str:
    with ZoneClient(address, token=TOKENS["admin"], timeout=10) as admin:
        return admin.list_datasets()[0].version


def test_kill_9_during_activations_restarts_on_a_consistent_version_set(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=300)
    store = tmp_path / "zone" / "datasets.duckdb"
    versions = [list_datasets(store)[0].version, import_version(config, 200, "--stage")]
    for round_ in range(3):
        server, address = serve_process(config)
        try:
            wait_for(address)
            stop, flips = threading.Event(), list[int]()

            def flip(
                address: str = address, stop: threading.Event = stop, flips: list[int] = flips
            ) -> None:
                with ZoneClient(address, token=TOKENS["admin"], timeout=10) as admin:
                    i = 0
                    while not stop.is_set():
                        try:
                            admin.activate_dataset("enterprises", versions[i % 2])
                        except Exception:  # noqa: BLE001 - the server is being killed
                            return
                        flips.append(i)
                        i += 1

            flipper = threading.Thread(target=flip)
            flipper.start()
            time.sleep(0.4 + 0.3 * round_)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            stop.set()
            flipper.join(timeout=30)
            assert len(flips) >= 2  # killed while switching back and forth
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            assert server.stdout is not None
            server.stdout.close()
        active = read_manifest(store).datasets["enterprises"].active
        assert active in versions
        server, address = serve_process(config)
        try:
            wait_for(address)
            assert served_version(address) == active  # restarted on the manifest's set
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            assert server.stdout is not None
            server.stdout.close()


def test_kill_9_during_an_import_leaves_the_served_version(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=300)
    store = tmp_path / "zone" / "datasets.duckdb"
    v1 = list_datasets(store)[0].version
    big = tmp_path / "big.csv"
    small = generate_csv(tmp_path / "small.csv", rows=1000, seed=5)
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * EXCLUDE (i) REPLACE (uscc || lpad(CAST(i AS VARCHAR), 4, '0') AS uscc) "
        "FROM read_csv(?, all_varchar = true), range(1000) r(i)) TO ? (HEADER)",
        [str(small), str(big)],
    )
    con.close()
    meta = tmp_path / "meta.yaml"
    key = "    type: string\n    level: L3\n"
    text = (EXAMPLES / "enterprises.meta.yaml").read_text()
    meta.write_text(text.replace(key, key + "    max_length: 30\n", 1))
    importer = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "datasets", "import", str(big), "--name",
         "enterprises", "--meta", str(meta), "--config", str(config), "--replace"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(store.glob("enterprises/.*.partial*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert importer.poll() is None, "the import ended before it could be killed"
    time.sleep(0.3)
    importer.send_signal(signal.SIGKILL)
    importer.wait(timeout=10)
    assert read_manifest(store).datasets["enterprises"].active == v1
    server, address = serve_process(config)
    try:
        wait_for(address)
        assert served_version(address) == v1
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        assert server.stdout is not None
        server.stdout.close()


@pytest.mark.parametrize("scope", ["dataset", "version"])
def test_budgets_span_versions_unless_the_metadata_scopes_them_per_version(
    tmp_path: Path, scope: str
) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=300)
    meta = tmp_path / f"{scope}.meta.yaml"
    text = (EXAMPLES / "enterprises.meta.yaml").read_text()
    meta.write_text(text.replace("entity_key: uscc", f"budget_scope: {scope}\nentity_key: uscc"))
    versions = []
    for rows in (200, 250):
        source = generate_csv(tmp_path / f"s{rows}.csv", rows=rows, seed=rows)
        done = zone_cli("datasets", "import", str(source), "--name", "enterprises", "--meta",
                        str(meta), "--config", str(config), "--replace", "--stage")  # fmt: skip
        assert done.returncode == 0, done.stderr
        versions.append(read_manifest(tmp_path / "zone" / "datasets.duckdb")
                        .datasets["enterprises"].versions[-1].version)  # fmt: skip
    token = add_principal(config, "scoped", epsilon=1.0)
    with running_zone(config) as zone, ZoneClient(target(zone), token=TOKENS["admin"]) as admin:
        admin.activate_dataset("enterprises", versions[0])
        with ZoneClient(target(zone), token=token) as analyst:
            first = analyst.query_statistics(PRODUCT, [count()], epsilon=0.75)
            admin.activate_dataset("enterprises", versions[1])
            if scope == "dataset":  # the same people: what v1 revealed still counts
                with pytest.raises(ResourceExhaustedError):
                    analyst.query_statistics(PRODUCT, [count()], epsilon=0.75)
                return
            after = analyst.query_statistics(PRODUCT, [count()], epsilon=0.75)
    assert first.remaining_epsilon == pytest.approx(0.25)
    assert after.remaining_epsilon == pytest.approx(0.25)  # a budget of its own
    assert (first.dataset_version, after.dataset_version) == tuple(versions)
