"""The zone's domain state in one object: datasets, products, policies, state store, audit chain.

The gRPC layer (``zone.server``) is a thin shell around :class:`ZoneRuntime`; nothing here imports
grpc. Policies can be reloaded while serving: a new :class:`PolicySet` is validated whole and
swapped in by a single reference assignment, so every call sees either the old or the new set,
never a mix (a call takes one snapshot at its start).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from zone import __version__
from zone.audit import AuditChain, ReleaseRegistry, VerifyResult, verify_chain
from zone.audit.receipts import ReceiptBook
from zone.catalog import (
    DatasetCatalog,
    DatasetInfo,
    Product,
    columns_read,
    load_products,
    product_parameters,
)
from zone.clock import today_utc
from zone.config import ZoneConfig
from zone.errors import NotFound, PermissionDenied, ValidationFailed
from zone.jobs import LocalProcessExecutor
from zone.ledger import PrivacyLedger
from zone.metering import Metering
from zone.policy import Grant, PolicySet, Principal, ProductRef, load_policies
from zone.products.training.service import TRAINING_PRELOAD, TrainingJobs
from zone.products.verification.service import VerificationService
from zone.state import StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetView:
    """What a caller may see of a dataset: metadata and a rounded row count, never rows."""

    info: DatasetInfo
    approx_row_count: int
    granularity: int
    products: tuple[str, ...]


@dataclass(frozen=True)
class ProductView:
    """What a caller may see of a product, with the caller's own grant terms if any."""

    product: Product
    columns: tuple[str, ...]
    parameters: Mapping[str, Any]
    grant: Grant | None


@dataclass(frozen=True)
class ReloadResult:
    """Outcome of a successful policy reload."""

    digest: str
    previous_digest: str
    principals: int
    grants: int


def load_policy_set(
    policies_dir: Path, products: Mapping[str, Product], datasets: Collection[str]
) -> PolicySet:
    """Load policies/*.yaml checked against the approved products and the datasets.

    Raises:
        ValidationFailed: every problem in every policy file.
    """
    refs = {pid: ProductRef(dataset=p.dataset, kind=p.kind) for pid, p in products.items()}
    return load_policies(policies_dir, refs, datasets)


def round_to(value: int, granularity: int) -> int:
    """Round to the nearest multiple of a public granularity (halves round up)."""
    return ((value + granularity // 2) // granularity) * granularity


class ZoneRuntime:
    """Loaded datasets, products and policies plus the state store; shared by all calls."""

    def __init__(self, config: ZoneConfig) -> None:
        self.config = config
        self._reload_lock = threading.Lock()
        self.catalog = DatasetCatalog.open(config.datasets_db)
        try:
            metas = {name: info.meta for name, info in self.catalog.datasets().items()}
            self.products: Mapping[str, Product] = load_products(config.models_dir, metas)
            self._policies = self._load_policies()
            self.store = StateStore.open(config.state_db)
        except BaseException:
            self.catalog.close()
            raise
        self.audit = AuditChain(self.store)
        self.ledger = PrivacyLedger(self.store, self.audit)
        self.releases = ReleaseRegistry(self.store, self.audit)
        self.receipts = ReceiptBook(self.store, self.releases)
        self.metering = Metering(self.store, self.audit, self._providers_of)
        executor = LocalProcessExecutor(
            max_concurrent=config.jobs.max_concurrent,
            wall_time_s=config.jobs.wall_time_seconds,
            memory_bytes=config.jobs.memory_mb * 1024 * 1024,
            warm_workers=config.jobs.warm_workers,
            preload=TRAINING_PRELOAD,
        )
        self.training = TrainingJobs(self, executor)
        self.verification = VerificationService(self)
        # Jobs first: their charges follow the job rule (refund if no data was touched); then
        # any other charge left open by a crash is settled as failed (still charged).
        self.interrupted_jobs = self.training.recover()
        self.interrupted_charges = self.ledger.recover()

    def close(self) -> None:
        """Stop the job workers and release the database handles."""
        self.training.shutdown(self.config.shutdown_grace_seconds)
        self.verification.close()
        self.catalog.close()
        self.store.close()

    def _providers_of(self, product_id: str) -> tuple[str, tuple[tuple[str, Decimal], ...]]:
        """The dataset of a product and that dataset's providers with their revenue shares."""
        dataset = self.products[product_id].dataset
        providers = self.catalog.get(dataset).meta.providers or ()
        return dataset, tuple((p.id, p.share) for p in providers)

    @property
    def policies(self) -> PolicySet:
        """The policy set in force (an immutable snapshot)."""
        return self._policies

    def _load_policies(self) -> PolicySet:
        return load_policy_set(
            self.config.policies_dir, self.products, self.catalog.datasets().keys()
        )

    def reload_policies(self) -> ReloadResult:
        """Validate policies/*.yaml and swap them in atomically; audit either outcome.

        Raises:
            ValidationFailed: the new set is invalid; the running set stays in force.
        """
        with self._reload_lock:
            previous = self._policies
            try:
                new = self._load_policies()
            except ValidationFailed as exc:
                self.audit.append(
                    "policy.reload",
                    {
                        "outcome": "rejected",
                        "problems": len(exc.problems),
                        "running_digest": previous.digest,
                    },
                )
                raise
            self._policies = new
            self.audit.append(
                "policy.reload",
                {"outcome": "ok", "digest": new.digest, "previous_digest": previous.digest},
            )
        log.info("policies reloaded: %s (was %s)", new.digest, previous.digest)
        return ReloadResult(new.digest, previous.digest, len(new.principals), len(new.grants))

    def record_start(self) -> None:
        """Audit the server start with what it loaded."""
        self.audit.append(
            "server.start",
            {
                "code_version": __version__,
                "policy_digest": self._policies.digest,
                "datasets": {n: i.version for n, i in self.catalog.datasets().items()},
                "products": sorted(self.products),
                "interrupted_charges": self.interrupted_charges,
                "interrupted_jobs": self.interrupted_jobs,
            },
        )

    def record_stop(self) -> None:
        """Audit a graceful stop."""
        self.audit.append("server.stop", {"policy_digest": self._policies.digest})

    # --- what a caller may see -------------------------------------------------------------

    def _granted(self, policies: PolicySet, principal: Principal) -> Mapping[str, Grant]:
        return policies.granted_products(principal, today_utc())

    def visible_product_ids(self, policies: PolicySet, principal: Principal) -> list[str]:
        """Products the caller may see: all for admins, granted ones for everyone else."""
        if principal.role == "admin":
            return sorted(self.products)
        return sorted(pid for pid in self._granted(policies, principal) if pid in self.products)

    def visible_datasets(self, policies: PolicySet, principal: Principal) -> list[DatasetView]:
        """Datasets the caller may see: those its visible products read (all for admins)."""
        by_dataset: dict[str, list[str]] = {}
        for pid in self.visible_product_ids(policies, principal):
            by_dataset.setdefault(self.products[pid].dataset, []).append(pid)
        names = self.catalog.datasets().keys() if principal.role == "admin" else by_dataset
        return [self._dataset_view(name, by_dataset.get(name, [])) for name in sorted(names)]

    def describe_dataset(self, policies: PolicySet, principal: Principal, name: str) -> DatasetView:
        """One visible dataset.

        Raises:
            PermissionDenied: not visible to the caller (also for names that do not exist, so
                that existence is not revealed); admins get NotFound for unknown names.
        """
        for view in self.visible_datasets(policies, principal):
            if view.info.name == name:
                return view
        if principal.role == "admin":
            raise NotFound("no such dataset", reason="unknown_dataset")
        raise PermissionDenied("dataset not granted", reason="not_granted")

    def visible_products(
        self, policies: PolicySet, principal: Principal, dataset: str = ""
    ) -> list[ProductView]:
        """Visible products, optionally only those over ``dataset``."""
        views = [
            self._product_view(policies, principal, pid)
            for pid in self.visible_product_ids(policies, principal)
        ]
        return [v for v in views if not dataset or v.product.dataset == dataset]

    def describe_product(
        self, policies: PolicySet, principal: Principal, product_id: str
    ) -> ProductView:
        """One visible product (same existence rule as :meth:`describe_dataset`)."""
        if product_id in self.visible_product_ids(policies, principal):
            return self._product_view(policies, principal, product_id)
        if principal.role == "admin":
            raise NotFound("no such product", reason="unknown_product")
        raise PermissionDenied("product not granted", reason="not_granted")

    def public_row_count(self, info: DatasetInfo) -> int:
        """The dataset's row count rounded to the public granularity (treated as public)."""
        return round_to(info.row_count, self.config.row_count_granularity)

    def _dataset_view(self, name: str, products: list[str]) -> DatasetView:
        info = self.catalog.get(name)
        granularity = self.config.row_count_granularity
        return DatasetView(info, self.public_row_count(info), granularity, tuple(products))

    def _product_view(
        self, policies: PolicySet, principal: Principal, product_id: str
    ) -> ProductView:
        product = self.products[product_id]
        return ProductView(
            product=product,
            columns=tuple(sorted(columns_read(product))),
            parameters=product_parameters(product),
            grant=self._granted(policies, principal).get(product_id),
        )

    def verify_audit(self) -> VerifyResult:
        """Recompute the whole audit chain."""
        with self.store.read() as conn:
            return verify_chain(conn)
