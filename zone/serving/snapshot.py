"""One consistent serving set: dataset versions, products and policies, validated together.

A :class:`Snapshot` is built whole from what is on disk (the dataset store's active versions,
``models/*.yaml``, ``policies/*.yaml``) and never changes. Products are checked against the
metadata of exactly the versions it serves, and policies against those products and datasets,
so a call that holds a snapshot sees one coherent set however many reloads happen meanwhile.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from zone.audit import canonical_json
from zone.catalog import DatasetCatalog, Product, load_products
from zone.catalog._manifest import read_manifest
from zone.catalog.products import product_refs
from zone.errors import FailedPrecondition, Problem, ValidationFailed
from zone.policy import PolicySet, load_policies


@dataclass(frozen=True)
class Sources:
    """Where a snapshot is loaded from, and the DuckDB settings its catalog runs with."""

    store: Path
    models_dir: Path
    policies_dir: Path
    memory_limit: str | None = None
    threads: int | None = None


@dataclass(eq=False)
class Snapshot:
    """The datasets (one version each), products and policies one call works with.

    ``datasets`` is closed once the snapshot is no longer the one in force and no call holds
    it any more (see ``zone.serving.holder``).
    """

    datasets: DatasetCatalog
    products: Mapping[str, Product]
    policies: PolicySet
    _pins: int = field(default=0, repr=False)
    _retired: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def digest(self) -> str:
        """sha256 over the whole set: policy digest, product definitions, dataset versions.

        What replicas compare to know they serve the same set (``zone.policy.broadcast``).
        """
        content = {
            "policies": self.policies.digest,
            "products": {
                pid: p.model_dump(mode="json") for pid, p in sorted(self.products.items())
            },
            "datasets": self.versions,
        }
        return "sha256:" + hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()

    @property
    def versions(self) -> dict[str, str]:
        """The served version of each dataset."""
        return {name: info.version for name, info in self.datasets.datasets().items()}

    def pin(self) -> None:
        """A call starts using this snapshot."""
        with self._lock:
            if self._retired and self._pins == 0:  # pragma: no cover - the holder prevents it
                raise FailedPrecondition("the serving snapshot was closed")
            self._pins += 1

    def unpin(self) -> None:
        """A call is done with it; the last call of a retired snapshot closes its datasets."""
        with self._lock:
            self._pins -= 1
            closing = self._retired and self._pins == 0
        if closing:
            self.datasets.close()

    def retire(self) -> None:
        """No new call will pin it; close the datasets once the last running call is done."""
        with self._lock:
            self._retired = True
            closing = self._pins == 0
        if closing:
            self.datasets.close()


def closed_problems(datasets: DatasetCatalog, products: Mapping[str, Product]) -> list[Problem]:
    """Products reading a dataset whose open level is ``closed`` (it serves no product)."""
    return [
        Problem(
            f"models ({pid})",
            None,
            f"product {pid!r} reads dataset {product.dataset!r}, whose open level is closed: "
            "a closed dataset serves no product",
        )
        for pid, product in products.items()
        if product.dataset in datasets.datasets()
        and datasets.get(product.dataset).meta.open_level == "closed"
    ]


def load_snapshot(sources: Sources, active: Mapping[str, str] | None = None) -> Snapshot:
    """Attach the active versions, then load and check products and policies against them.

    Args:
        sources: The store and the folders to read.
        active: The version to serve per dataset (default: the store manifest's active ones).

    Raises:
        ValidationFailed: products or policies are invalid for these dataset versions, or a
            product reads a dataset whose open level is ``closed``.
        FailedPrecondition: no store, a damaged version file, or an unknown version.
    """
    manifest = read_manifest(sources.store)
    if not (sources.store / "catalog.json").is_file():
        raise FailedPrecondition(
            "no dataset store; import a dataset first", reason="no_dataset_database"
        )
    chosen = (
        {n: e.version for n, e in manifest.active().items()} if active is None else dict(active)
    )
    files = {}
    for name, version in chosen.items():
        entry = manifest.datasets.get(name)
        found = entry.find(version) if entry else None
        if found is None or found.dropped:
            raise FailedPrecondition(f"dataset {name!r} has no version {version}")
        files[name] = (version, sources.store / found.file)
    datasets = DatasetCatalog.attach(
        files, memory_limit=sources.memory_limit, threads=sources.threads
    )
    try:
        metas = {name: info.meta for name, info in datasets.datasets().items()}
        products = load_products(sources.models_dir, metas)
        closed = closed_problems(datasets, products)
        if closed:
            raise ValidationFailed(closed, what="loading products")
        policies = load_policies(sources.policies_dir, product_refs(products), metas.keys())
    except BaseException:
        datasets.close()
        raise
    return Snapshot(datasets, products, policies)
