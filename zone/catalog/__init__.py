"""Datasets (DuckDB store, import, metadata) and approved products (``models/*.yaml``)."""

from __future__ import annotations

from zone.catalog._joint import JointTrainingProduct
from zone.catalog._verification import Claim
from zone.catalog.metadata import ColumnMeta, DatasetMeta, ProviderShare, load_metadata
from zone.catalog.product_models import (
    Product,
    StatisticsProduct,
    TrainingProduct,
    VerificationProduct,
)
from zone.catalog.products import columns_read, load_products, product_parameters
from zone.catalog.quality import ColumnQuality, QualityReport
from zone.catalog.store import (
    DATASET_NAME,
    DatasetCatalog,
    DatasetInfo,
    ImportRefused,
    ImportResult,
    import_dataset,
    list_datasets,
    table_name,
)

__all__ = [
    "DATASET_NAME",
    "Claim",
    "ColumnMeta",
    "ColumnQuality",
    "DatasetCatalog",
    "DatasetInfo",
    "DatasetMeta",
    "JointTrainingProduct",
    "ImportRefused",
    "ImportResult",
    "Product",
    "ProviderShare",
    "QualityReport",
    "StatisticsProduct",
    "TrainingProduct",
    "VerificationProduct",
    "columns_read",
    "import_dataset",
    "list_datasets",
    "load_metadata",
    "load_products",
    "product_parameters",
    "table_name",
]
