"""Classification levels L1-L4: which uses of a column each level allows.

A data provider classifies every column of a dataset (``level`` in the metadata). DP protects
each entity whatever the level; the level says which *population-level* facts about a column
the provider agreed to have published, and so how the column may be used:

* **L1 public**: the values themselves are public (e.g. the district in a public register).
  Every use, including grouping by keys selected from the data with DP key selection (the
  released keys are values read from the data).
* **L2 internal**: not public, but not sensitive either (e.g. headcount). May define
  subpopulations (filters, grouping by the declared public domain) and be measured, learned
  from and verified; group keys must come from the metadata's declared domain, never from the
  data.
* **L3 sensitive**: may only be the *measured* quantity: aggregated (sum, mean, quantile,
  histogram of its own values), used as a training feature or label, or checked by verification
  (claims, score features, the subject key), but never define the population or the groups of
  another statistic. So the zone publishes how a sensitive attribute is distributed over public
  and internal groups, never profiles of the groups a sensitive attribute defines ("the mean tax
  paid of enterprises with penalties"), which a provider may consider a disclosure about those
  groups even under DP.
* **L4 restricted**: never read by any product (and its bounds and domain are withheld from the
  catalog).

``ALLOWED`` is the one table; product loading (``zone.catalog.products``) refuses a product that
declares a use beyond a column's level, and statistics queries refuse one (INVALID_ARGUMENT,
before anything is charged).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Literal

Level = Literal["L1", "L2", "L3", "L4"]


class Use(Enum):
    """A way a product or a query can use a column (the value is its description)."""

    AGGREGATE = "be aggregated (sum, mean, quantile, histogram)"
    TRAINING = "be a training feature or label"
    VERIFICATION = "be verified (key, claim, score feature)"
    FILTER = "filter the population"
    GROUP_BY = "group by its declared public domain"
    KEY_SELECTION = "group by keys selected from the data"


LEVEL_NAMES: Mapping[Level, str] = {
    "L1": "public",
    "L2": "internal",
    "L3": "sensitive",
    "L4": "restricted",
}

_MEASURED = frozenset({Use.AGGREGATE, Use.TRAINING, Use.VERIFICATION})
ALLOWED: Mapping[Level, frozenset[Use]] = {
    "L1": frozenset(Use),
    "L2": _MEASURED | {Use.FILTER, Use.GROUP_BY},
    "L3": _MEASURED,
    "L4": frozenset(),
}

LEVEL_DESCRIPTION = (
    "Classification level: L1 public (every use, including grouping by keys selected from the "
    "data), L2 internal (aggregates, filters, grouping by the declared domain, training, "
    "verification), L3 sensitive (only measured: aggregates, training, verification; never a "
    "filter or a group key), L4 restricted (never read; bounds and domain withheld from the "
    "catalog)."
)


def allows(level: Level, use: Use) -> bool:
    """Whether a column classified ``level`` may be used as ``use``."""
    return use in ALLOWED[level]


def use_problem(name: str, level: Level, use: Use) -> str | None:
    """Why column ``name`` (classified ``level``) may not be used as ``use``; None if it may."""
    if allows(level, use):
        return None
    if level == "L4":
        return f"column {name!r} is classified L4 (restricted) and can never be read"
    return f"column {name!r} is classified {level} ({LEVEL_NAMES[level]}): it may not {use.value}"
