"""Every service the composition root builds reads the serving snapshot, never a set it kept.

The services are built once, at start; reloads and dataset activations swap the snapshot. A
service that captured the products mapping or a dataset catalog at start would keep serving the
old set after a reload (the bug the serving holder exists to prevent). This walks the built
services' attributes and fails on any plain product mapping or dataset catalog: each must be
the live view of the holder.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from zonekit import make_zone_dir

from zone.catalog import DatasetCatalog, Product
from zone.config import load_config
from zone.server.wiring import ZoneServices, build, console_deps
from zone.serving import LiveCatalog, LiveProducts, ServingHolder, Snapshot

HOLDER = (LiveCatalog, LiveProducts, ServingHolder, Snapshot)  # the holder and its views

CONSOLE = "console:\n  listen: 127.0.0.1:0\n"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZoneServices]:
    config = make_zone_dir(tmp_path_factory.mktemp("wiring"), rows=200, extra_config=CONSOLE)
    built = build(load_config(config))
    try:
        yield built
    finally:
        built.close()


def _walk(root: object, path: str, depth: int, seen: set[int]) -> Iterator[tuple[str, Any]]:
    if depth < 0 or id(root) in seen or not hasattr(root, "__dict__") or isinstance(root, HOLDER):
        return
    seen.add(id(root))
    for name, value in vars(root).items():
        where = f"{path}.{name}"
        yield where, value
        if type(value).__module__.startswith("zone."):
            yield from _walk(value, where, depth - 1, seen)


def _product_mapping(value: object) -> bool:
    if not isinstance(value, Mapping) or isinstance(value, LiveProducts) or not value:
        return False
    return all(isinstance(v, Product) for v in value.values())


def test_no_service_keeps_the_products_or_datasets_loaded_at_start(
    services: ZoneServices,
) -> None:
    stale = []
    found_live = 0
    deps = console_deps(services)
    roots: dict[str, object] = {
        name: getattr(services, name)
        for name in ZoneServices.__dataclass_fields__
        if name not in ("serving", "config", "store", "audit")
    }
    roots["console"] = deps
    for name, root in roots.items():
        for where, value in [(name, root), *_walk(root, name, 4, set())]:
            if isinstance(value, (LiveCatalog, LiveProducts)):
                found_live += 1
            elif isinstance(value, DatasetCatalog) or _product_mapping(value):
                stale.append(where)
    assert stale == []
    assert found_live >= 10  # statistics, training, joint, cohorts, verification, reviews, ...


def test_the_console_reads_the_live_set(services: ZoneServices) -> None:
    deps = console_deps(services)
    assert isinstance(deps.products, LiveProducts)
    assert deps.datasets() == services.serving.snapshot.datasets.datasets()
    assert deps.policies() is services.serving.current
