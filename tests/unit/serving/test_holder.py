"""The serving snapshot: reloads and activations swap datasets, products and policies together."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from zonekit import EXAMPLES, generate_csv, make_zone_dir

from zone.catalog import DatasetMeta, import_dataset, load_metadata
from zone.catalog._manifest import read_manifest
from zone.errors import FailedPrecondition, NotFound, ValidationFailed
from zone.serving import LiveCatalog, LiveProducts, ServingHolder, Sources

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


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_zone_dir(tmp_path_factory.mktemp("serving"), rows=300).parent


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(template, tmp_path / "zone", ignore=shutil.ignore_patterns("state.sqlite*"))
    return tmp_path / "zone"


class Events(list[tuple[str, dict[str, Any]]]):
    def __call__(self, kind: str, record: dict[str, Any]) -> None:
        self.append((kind, record))


def holder_for(root: Path, events: Events) -> ServingHolder:
    return ServingHolder(Sources(root / "datasets.duckdb", root / "models", root / "policies"),
                         events)  # fmt: skip


def new_version(root: Path, rows: int, meta: DatasetMeta | None = None, stage: bool = True) -> str:
    source = generate_csv(root / f"v{rows}.csv", rows=rows, seed=rows)
    meta = meta or load_metadata(EXAMPLES / "enterprises.meta.yaml")
    result = import_dataset(root / "datasets.duckdb", source, "enterprises", meta,
                            replace_existing=True, activate=not stage)  # fmt: skip
    return result.info.version


def test_reload_brings_new_products_and_versions_in_with_the_policies(root: Path) -> None:
    events = Events()
    holder = holder_for(root, events)
    first = holder.snapshot
    v2 = new_version(root, 200, stage=False)
    (root / "models" / "district-counts.yaml").write_text(NEW_PRODUCT)
    policy = (root / "policies" / "demo.yaml").read_text()
    (root / "policies" / "demo.yaml").write_text(
        policy.replace("products: [enterprise-stats, enterprise-default-lr, capital-match]",
                       "products: [enterprise-stats, enterprise-default-lr, capital-match, "
                       "district-counts]", 1)
    )  # fmt: skip
    result = holder.reload()
    now = holder.snapshot
    assert now is not first and "district-counts" in now.products
    assert now.versions == {"enterprises": v2} == dict(result.datasets)
    assert result.products == 4 and result.digest == now.policies.digest != first.policies.digest
    assert "district-counts" in now.policies.granted_products(
        now.policies.principals["bank-a"], __import__("datetime").date.today()
    )
    assert events[-1][0] == "policy.reload" and events[-1][1]["outcome"] == "ok"
    assert events[-1][1]["datasets"] == {"enterprises": v2}
    with pytest.raises(FailedPrecondition, match="closed"):
        first.datasets.cursor()  # no call held the old snapshot: closed at the swap
    holder.close()


@pytest.mark.parametrize(
    ("path", "text", "fragment"),
    [
        ("models/bad.yaml", NEW_PRODUCT.replace("[district]", "[no_such]"), "no_such"),
        ("models/bad.yaml", NEW_PRODUCT.replace("enterprises", "nowhere"), "unknown dataset"),
        (
            "policies/zz.yaml",
            "grants:\n  - principal: bank-a\n    products: [ghost]\n    purpose: testing\n",
            "ghost",
        ),
    ],
)
def test_a_bad_set_is_refused_whole_and_the_running_set_stays(
    root: Path, path: str, text: str, fragment: str
) -> None:
    events = Events()
    holder = holder_for(root, events)
    running = holder.snapshot
    new_version(root, 200, stage=False)  # would come in with a good set
    (root / path).write_text(text)
    with pytest.raises(ValidationFailed) as caught:
        holder.reload()
    assert fragment in str(caught.value)
    assert holder.snapshot is running
    assert running.datasets.cursor().execute(
        'SELECT count(*) FROM "ds_enterprises"'
    ).fetchall() == [(300,)]
    assert events[-1][1]["outcome"] == "rejected"
    holder.close()


def test_a_call_finishes_on_the_version_it_started_with(root: Path) -> None:
    holder = holder_for(root, Events())
    catalog, products = LiveCatalog(holder), LiveProducts(holder)
    v1 = catalog.get("enterprises").version
    v2 = new_version(root, 200)
    pinned = holder.enter()  # a call starts
    done = threading.Event()

    def switch() -> None:
        holder.activate("enterprises", v2, "admin")
        done.set()

    threading.Thread(target=switch).start()
    assert done.wait(30)
    # still inside the call: the same version, the same products, a working cursor
    assert catalog.get("enterprises").version == v1 and "enterprise-stats" in products
    cursor = catalog.cursor()
    assert cursor.execute('SELECT count(*) FROM "ds_enterprises"').fetchall() == [(300,)]
    holder.leave(pinned)
    with pytest.raises(FailedPrecondition, match="closed"):
        pinned.datasets.cursor()  # closed once its last call ended
    assert catalog.get("enterprises").version == v2  # outside a call: the one in force
    with holder.pinned():
        rows = catalog.cursor().execute('SELECT count(*) FROM "ds_enterprises"').fetchall()
    assert rows == [(200,)]
    holder.close()


def test_activation_checks_the_products_against_the_new_metadata(root: Path) -> None:
    events = Events()
    holder = holder_for(root, events)
    v1 = holder.snapshot.versions["enterprises"]
    meta = load_metadata(EXAMPLES / "enterprises.meta.yaml")
    unbounded = meta.columns["registered_capital"].model_copy(update={"bounds": None})
    loose = meta.model_copy(update={"columns": {**meta.columns, "registered_capital": unbounded}})
    v2 = new_version(root, 200, DatasetMeta.model_validate(loose.model_dump()))
    with pytest.raises(ValidationFailed, match="registered_capital"):
        holder.activate("enterprises", v2, "admin")
    assert holder.snapshot.versions["enterprises"] == v1
    assert read_manifest(root / "datasets.duckdb").datasets["enterprises"].active == v1
    rejected = {"outcome": "rejected", "problems": 4, "running_digest": holder.current.digest,
                "dataset": "enterprises"}  # fmt: skip
    assert events[-1] == ("dataset.activate", rejected)
    holder.close()


def test_rollback_is_activating_a_kept_version(root: Path) -> None:
    events = Events()
    holder = holder_for(root, events)
    v1 = holder.snapshot.versions["enterprises"]
    v2 = new_version(root, 200)
    assert holder.activate("enterprises", v2[:20], "admin").previous_version == v1
    back = holder.activate("enterprises", v1, "admin")
    assert (back.version, back.previous_version) == (v1, v2)
    assert events[-1][0] == "dataset.activate" and events[-1][1]["version"] == v1
    assert events[-1][1]["report_digest"].startswith("sha256:")
    assert read_manifest(root / "datasets.duckdb").datasets["enterprises"].active == v1
    with pytest.raises(NotFound):
        holder.activate("enterprises", "sha256:" + "0" * 64, "admin")
    with pytest.raises(NotFound):
        holder.activate("nowhere", v1, "admin")
    holder.close()


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "hostile",
    [
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 7)),
        "principals: " + "[" * 5000 + "]" * 5000 + "\n",
    ],
    ids=["alias-bomb-10e7", "nesting-5000"],
)
def test_reload_refuses_a_hostile_policy_file_quickly_and_keeps_the_running_set(
    root: Path, hostile: str
) -> None:
    events = Events()
    holder = holder_for(root, events)
    running = holder.snapshot
    (root / "policies" / "zz_hostile.yaml").write_text(hostile)
    with pytest.raises(ValidationFailed) as err:
        holder.reload()
    (problem,) = err.value.problems
    assert str(problem).startswith("policies/zz_hostile.yaml:")
    assert "aliases expanded" in problem.message or "nested deeper" in problem.message
    assert holder.snapshot is running
    assert events[-1][1]["outcome"] == "rejected"


def test_a_closed_dataset_serves_no_product(root: Path) -> None:
    holder = holder_for(root, Events())
    running = holder.snapshot
    text = (EXAMPLES / "enterprises.meta.yaml").read_text()
    closed = root / "closed.meta.yaml"
    closed.write_text(text.replace("open_level: conditional", "open_level: closed"))
    new_version(root, 200, load_metadata(closed), stage=False)
    with pytest.raises(ValidationFailed) as refused:
        holder.reload()
    assert "open level is closed" in str(refused.value) and holder.snapshot is running
    for product in ("enterprise-stats", "enterprise-default-lr", "capital-match"):
        (root / "models" / f"{product}.yaml").unlink()
    (root / "policies" / "demo.yaml").write_text("principals: []\n")
    result = holder.reload()  # no product reads it: the closed version is served, to no one
    assert (
        result.products == 0
        and holder.snapshot.datasets.get("enterprises").meta.open_level == "closed"
    )
    holder.close()
