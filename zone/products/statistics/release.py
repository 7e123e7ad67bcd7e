"""What leaves the zone from a statistics query: noisy aggregates and their parameters.

Every value here is the output of an OpenDP measurement, or a post-processing of such outputs
(scaling by a public granularity, a ratio clamped to public bounds, a candidate lookup). No
exact aggregate, row or data-derived bound is ever part of a release.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple


class Cell(NamedTuple):
    """One released cell: the group key (labels, in group_by order) and its values.

    ``error_bounds`` and ``low_signal`` have one entry per value (see
    ``zone.products.statistics.accuracy``: 95% bounds from released values and public
    parameters only); ``support`` is a mean's noisy count of non-null values, released with it
    (the same DP output the mean was computed from), None for other measures.
    """

    key: tuple[str, ...]
    values: tuple[float, ...]
    error_bounds: tuple[float, ...] = ()
    low_signal: tuple[bool, ...] = ()
    support: int | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (``support`` only where there is one)."""
        data: dict[str, object] = {
            "key": list(self.key),
            "values": list(self.values),
            "error_bounds": list(self.error_bounds),
            "low_signal": list(self.low_signal),
        }
        if self.support is not None:
            data["support"] = self.support
        return data


@dataclass(frozen=True)
class MeasureRelease:
    """One measure's release.

    Attributes:
        kind: count, sum, mean, histogram or quantile.
        column: the measured column ("" for count).
        mechanism: the OpenDP mechanism(s).
        epsilon: the measure's share of the query epsilon; delta is 0.
        delta: 0 (every measure mechanism is pure DP).
        noise_scale: per component (``count``, ``sum``, ``quantile(<alpha>)``): the noise
            scale in the released values' units (sums: integer scale x granularity; quantiles:
            rank units of the score).
        group_by: the group key column names.
        cells: one per group key in release order; values: one for count/sum/mean, one per
            bin for histograms (see ``bin_labels``), one per requested quantile.
        bin_labels: histogram bin labels.
        quantiles: the requested quantiles.
        error_bound_method: how the cells' 95% error bounds were computed, in words.
    """

    kind: str
    column: str
    mechanism: str
    epsilon: float
    delta: float
    noise_scale: Mapping[str, float]
    group_by: tuple[str, ...]
    cells: tuple[Cell, ...]
    bin_labels: tuple[str, ...] = ()
    quantiles: tuple[float, ...] = ()
    error_bound_method: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (lists, floats, strings)."""
        return {
            "kind": self.kind,
            "column": self.column,
            "mechanism": self.mechanism,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "noise_scale": dict(self.noise_scale),
            "group_by": list(self.group_by),
            "bin_labels": list(self.bin_labels),
            "quantiles": list(self.quantiles),
            "error_bound_method": self.error_bound_method,
            "cells": [c.to_dict() for c in self.cells],
        }


@dataclass(frozen=True)
class KeySelectionRelease:
    """The DP key selection step, when the query needed one (its noisy counts are not released).

    Attributes:
        mechanism: the OpenDP mechanism.
        epsilon: its share of the query epsilon.
        delta: the query delta.
        scale: discrete Laplace scale on the per-key counts.
        threshold: minimum noisy count of a released key.
        keys_released: how many keys were released.
        truncated: whether more keys passed the threshold than the cap (lowest noisy counts
            dropped, a post-processing).
    """

    mechanism: str
    epsilon: float
    delta: float
    scale: float
    threshold: int
    keys_released: int
    truncated: bool

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class StatsRelease:
    """The release of one statistics query.

    Attributes:
        product: the product id.
        dataset: the dataset read.
        epsilon: the epsilon the query was planned (and charged) for.
        delta: the delta charged.
        group_by: the group key column names.
        measures: one release per measure, in query order.
        key_selection: the key selection step, if any.
        guarantee: the privacy guarantee in words.
    """

    product: str
    dataset: str
    epsilon: float
    delta: float
    group_by: tuple[str, ...]
    measures: tuple[MeasureRelease, ...]
    key_selection: KeySelectionRelease | None = None
    guarantee: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (no NaN or infinity can occur)."""
        return {
            "product": self.product,
            "dataset": self.dataset,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "group_by": list(self.group_by),
            "measures": [m.to_dict() for m in self.measures],
            "key_selection": self.key_selection.to_dict() if self.key_selection else None,
            "guarantee": self.guarantee,
        }

    def payload_digest(self) -> str:
        """``sha256:<hex>`` over the canonical JSON of :meth:`to_dict` (for receipts).

        Canonical: keys sorted, no whitespace, UTF-8, floats in Python's shortest repr.
        """
        text = json.dumps(
            self.to_dict(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
