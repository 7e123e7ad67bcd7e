"""EstimateCost of a joint job: public facts, and on request a DP count of matched subjects.

Public facts are the plan's numbers (``JointSpec.public``): the cohort's size (the operator's
own), the training rows expected, the steps and sample rate, and what would be charged and how
it splits. Nothing about the join: the zone never says which keys matched, and no exact count.

The DP matched count (only where the product sets ``match_count_epsilon``, and charged that
epsilon through the release desk like any release): the number of cohort keys found in the
dataset (after normalisation; keys colliding in the dataset count as not found, as training
treats them), plus OpenDP discrete Laplace noise at sensitivity 1: adding or removing one zone
subject changes it by at most 1 (replacing a subject's values changes it not at all), so it is
``match_count_epsilon``-DP for add/remove and for replace-one alike. The keys are read from the
cohort file by a separate in-memory DuckDB connection and joined on a cursor of the catalog's
read-only connection (external access stays off there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from zone.catalog import DatasetCatalog, JointTrainingProduct
from zone.catalog.store import table_name
from zone.errors import FailedPrecondition
from zone.products.joint.keys import zone_key
from zone.products.statistics.mechanisms import laplace_scale, release_laplace

MECHANISM = "discrete_laplace (OpenDP make_laplace), sensitivity 1 (one zone subject)"


def matched_count(catalog: DatasetCatalog, product: JointTrainingProduct, cohort: Path) -> int:
    """The exact number of cohort keys found in the dataset (never released as such)."""
    try:
        with duckdb.connect(":memory:") as reader:
            keys = reader.execute("SELECT k FROM read_parquet(?)", [str(cohort)]).fetchnumpy()
    except duckdb.Error:
        raise FailedPrecondition("the cohort cannot be read", reason="cohort_unreadable") from None
    meta = catalog.get(product.dataset).meta
    integer = meta.columns[product.key].type == "integer"
    key = zone_key(f'"{product.key}"', product.key_format, integer=integer)
    cursor = catalog.cursor()
    try:
        cursor.register("cohort_keys", {"k": np.asarray(keys["k"], dtype=object)})
        row: Any = cursor.execute(
            # k is defined by an inner SELECT: a bare k in the join's subquery would bind to
            # cohort_keys.k (a correlated subquery, one window per cohort key).
            f"SELECT count(*) FROM cohort_keys c JOIN (SELECT * FROM (SELECT {key} AS k FROM "
            f'{table_name(product.dataset)} WHERE "{product.key}" IS NOT NULL) '
            "QUALIFY count(*) OVER (PARTITION BY k) = 1) z ON c.k = z.k"
        ).fetchone()
    finally:
        cursor.close()
    return int(row[0])


def dp_matched(exact: int, epsilon: float) -> int:
    """The released count: ``exact`` plus discrete Laplace noise (epsilon-DP, sensitivity 1)."""
    return release_laplace([exact], 1, laplace_scale(1, epsilon), epsilon)[0]
