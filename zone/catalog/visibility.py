"""What a caller may see of the catalog: visibility rules over datasets and products.

- Operators and researchers see the products their grants name (valid today) and the datasets
  those products read. Admins see every dataset and product (they administer; a query product
  still needs a grant that names the admin).
- Unknown names and names not granted both answer PERMISSION_DENIED with the same message, so
  the catalog is not an oracle for what exists; admins get NOT_FOUND for unknown names.
- Row counts are rounded to a public granularity (treated as public metadata, not DP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zone.catalog.products import Product, columns_read, product_parameters
from zone.catalog.quality import QualityReport
from zone.catalog.store import DatasetCatalog, DatasetInfo
from zone.clock import today_utc
from zone.errors import NotFound, PermissionDenied
from zone.policy import Grant, PolicySet, Principal


@dataclass(frozen=True)
class DatasetView:
    """What a caller may see of a dataset: metadata and a rounded row count, never rows.

    ``quality_report`` (the import's report, counts only) is shown to admins only: the number
    of values outside a public domain or bounds is about the data, not public metadata.
    """

    info: DatasetInfo
    approx_row_count: int
    granularity: int
    products: tuple[str, ...]
    quality_report: QualityReport | None = None


@dataclass(frozen=True)
class ProductView:
    """What a caller may see of a product, with the caller's own grant terms if any."""

    product: Product
    columns: tuple[str, ...]
    parameters: Mapping[str, Any]
    grant: Grant | None


def round_to(value: int, granularity: int) -> int:
    """Round to the nearest multiple of a public granularity (halves round up)."""
    return ((value + granularity // 2) // granularity) * granularity


def public_row_count(info: DatasetInfo, granularity: int) -> int:
    """The dataset's row count rounded to the public granularity (treated as public)."""
    return round_to(info.row_count, granularity)


class Visibility:
    """The catalog as each caller may see it (no grpc here)."""

    def __init__(
        self, catalog: DatasetCatalog, products: Mapping[str, Product], granularity: int
    ) -> None:
        self._catalog = catalog
        self._products = products
        self._granularity = granularity

    def _granted(self, policies: PolicySet, principal: Principal) -> Mapping[str, Grant]:
        return policies.granted_products(principal, today_utc())

    def product_ids(self, policies: PolicySet, principal: Principal) -> list[str]:
        """Products the caller may see: all for admins, granted ones for everyone else."""
        if principal.role == "admin":
            return sorted(self._products)
        granted = self._granted(policies, principal)
        return sorted(pid for pid in granted if pid in self._products)

    def datasets(self, policies: PolicySet, principal: Principal) -> list[DatasetView]:
        """Datasets the caller may see: those its visible products read (all for admins)."""
        by_dataset: dict[str, list[str]] = {}
        for pid in self.product_ids(policies, principal):
            by_dataset.setdefault(self._products[pid].dataset, []).append(pid)
        admin = principal.role == "admin"
        names = self._catalog.datasets().keys() if admin else by_dataset
        return [self._dataset_view(name, by_dataset.get(name, []), admin) for name in sorted(names)]

    def dataset(self, policies: PolicySet, principal: Principal, name: str) -> DatasetView:
        """One visible dataset.

        Raises:
            PermissionDenied: not visible to the caller (also for names that do not exist, so
                that existence is not revealed); admins get NotFound for unknown names.
        """
        for view in self.datasets(policies, principal):
            if view.info.name == name:
                return view
        if principal.role == "admin":
            raise NotFound("no such dataset", reason="unknown_dataset")
        raise PermissionDenied("dataset not granted", reason="not_granted")

    def products(
        self, policies: PolicySet, principal: Principal, dataset: str = ""
    ) -> list[ProductView]:
        """Visible products, optionally only those over ``dataset``."""
        views = [
            self._product_view(policies, principal, pid)
            for pid in self.product_ids(policies, principal)
        ]
        return [v for v in views if not dataset or v.product.dataset == dataset]

    def product(self, policies: PolicySet, principal: Principal, product_id: str) -> ProductView:
        """One visible product (same existence rule as :meth:`dataset`)."""
        if product_id in self.product_ids(policies, principal):
            return self._product_view(policies, principal, product_id)
        if principal.role == "admin":
            raise NotFound("no such product", reason="unknown_product")
        raise PermissionDenied("product not granted", reason="not_granted")

    def _dataset_view(self, name: str, products: list[str], admin: bool) -> DatasetView:
        info = self._catalog.get(name)
        count = public_row_count(info, self._granularity)
        report = info.report if admin else None
        return DatasetView(info, count, self._granularity, tuple(products), report)

    def _product_view(
        self, policies: PolicySet, principal: Principal, product_id: str
    ) -> ProductView:
        product = self._products[product_id]
        return ProductView(
            product=product,
            columns=tuple(sorted(columns_read(product))),
            parameters=product_parameters(product),
            grant=self._granted(policies, principal).get(product_id),
        )
