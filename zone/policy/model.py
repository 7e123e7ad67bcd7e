"""Value types of the policy engine: principals, grants, budgets and decisions.

All are frozen dataclasses; mappings are stored as read-only views, so values can be shared
between threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal

Role = Literal["operator", "researcher", "admin"]
DecisionReason = Literal[
    "ok",
    "unknown_product",
    "no_grant",
    "grant_not_yet_valid",
    "grant_expired",
    "principal_expired",
]
DP_PRODUCT_KINDS = frozenset({"statistics", "training"})


def _in_window(day: date, valid_from: date | None, valid_until: date | None) -> bool:
    if valid_from is not None and day < valid_from:
        return False
    return valid_until is None or day <= valid_until


@dataclass(frozen=True)
class ProductRef:
    """What the policy loader needs to know about an approved product.

    Attributes:
        dataset: The dataset the product computes over.
        kind: ``"statistics"``, ``"training"`` or ``"verification"``.
    """

    dataset: str
    kind: str


@dataclass(frozen=True)
class Budget:
    """A privacy budget (epsilon, delta)."""

    epsilon: float
    delta: float


@dataclass(frozen=True)
class Price:
    """Price per call and per job, in ``currency``."""

    per_call: float
    per_job: float
    currency: str


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. Validity dates are inclusive; None means unbounded."""

    id: str
    role: Role
    organisation: str
    valid_from: date | None = None
    valid_until: date | None = None

    def is_valid_on(self, day: date) -> bool:
        """Whether the principal may act on ``day``."""
        return _in_window(day, self.valid_from, self.valid_until)


@dataclass(frozen=True)
class Grant:
    """A principal's right to use some products, with budget, caps, quota and price.

    Attributes:
        principal: Id of the principal the grant is for.
        products: Product ids the grant covers.
        budget: Privacy budget per dataset.
        purpose: The declared purpose of use.
        per_job_epsilon: Cap on epsilon per query or job, if any.
        calls_per_day: Call quota per day, if any.
        price: Price of calls and jobs, if any.
        public_interest: Free of charge but still metered.
        valid_from: First day the grant is in force (inclusive), if bounded.
        valid_until: Last day the grant is in force (inclusive), if bounded.
        source: ``file:line`` of the grant in the policy files, for explanations.
    """

    principal: str
    products: tuple[str, ...]
    budget: Mapping[str, Budget]
    purpose: str
    per_job_epsilon: float | None = None
    calls_per_day: int | None = None
    price: Price | None = None
    public_interest: bool = False
    valid_from: date | None = None
    valid_until: date | None = None
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "budget", MappingProxyType(dict(self.budget)))
        object.__setattr__(self, "products", tuple(self.products))

    def is_valid_on(self, day: date) -> bool:
        """Whether the grant is in force on ``day``."""
        return _in_window(day, self.valid_from, self.valid_until)


@dataclass(frozen=True)
class Decision:
    """The outcome of :meth:`PolicySet.authorize`; ``grant`` is set when allowed."""

    allowed: bool
    reason: DecisionReason
    grant: Grant | None = None


@dataclass(frozen=True)
class Credential:
    """How a principal proves who it is: a token digest and/or a certificate identity."""

    principal_id: str
    token_sha256: str | None = None
    cert_identity: str | None = None
