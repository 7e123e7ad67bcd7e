"""Value types of the policy engine: principals, grants, budgets and decisions.

All are frozen dataclasses; mappings are stored as read-only views, so values can be shared
between threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.money import MICRO

Role = Literal["operator", "researcher", "admin", "supervisor"]
"""``supervisor``: a regulator; reads the supervision console, calls no gRPC method."""
DecisionReason = Literal[
    "ok",
    "unknown_product",
    "no_grant",
    "grant_not_yet_valid",
    "grant_expired",
    "principal_expired",
]
QuotaWindow = Literal["minute", "hour", "day"]
DP_PRODUCT_KINDS = frozenset({"statistics", "training", "joint_training"})


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
        consent: A verification product's consent mode (``"none"`` for the other kinds).
    """

    dataset: str
    kind: str
    consent: str = "none"


@dataclass(frozen=True)
class Budget:
    """A privacy budget (epsilon, delta)."""

    epsilon: float
    delta: float


@dataclass(frozen=True)
class PriceTier:
    """Calls of a month beyond the first ``from_calls`` cost ``per_call_micro`` each."""

    from_calls: int
    per_call_micro: int


@dataclass(frozen=True)
class Price:
    """Price per call and per job in integer micro-units of ``currency``.

    With ``tiers`` (sorted, the first from 0 calls) the price of a call is graduated by the
    principal's volume in the UTC calendar month: the call made after ``n`` earlier calls of
    the month costs the price of the last tier with ``from_calls <= n``. Only calls beyond a
    threshold get its price; earlier calls are never repriced.
    """

    currency: str
    per_call_micro: int = 0
    per_job_micro: int = 0
    tiers: tuple[PriceTier, ...] = ()

    def call_price(self, calls_before: int) -> tuple[int, int]:
        """(micro-units, tier index) of a call made after ``calls_before`` calls this month.

        The tier index is -1 when the price is flat.
        """
        index = -1
        price = self.per_call_micro
        for i, tier in enumerate(self.tiers):
            if tier.from_calls <= calls_before:
                index, price = i, tier.per_call_micro
        return price, index

    @property
    def per_call(self) -> float:
        """The price of the first call of a month, as a float (for display only)."""
        return self.call_price(0)[0] / MICRO

    @property
    def per_job(self) -> float:
        """The price of a job, as a float (for display only)."""
        return self.per_job_micro / MICRO


@dataclass(frozen=True)
class Quota:
    """At most ``calls`` calls (or jobs) of one product per fixed UTC ``window``."""

    calls: int
    window: QuotaWindow = "day"


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
        calls_per_day: Call quota per day for each product, if any.
        quotas: Per-product quotas that override ``calls_per_day``.
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
    quotas: Mapping[str, Quota] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "budget", MappingProxyType(dict(self.budget)))
        object.__setattr__(self, "products", tuple(self.products))
        object.__setattr__(self, "quotas", MappingProxyType(dict(self.quotas)))

    def quota_for(self, product: str) -> Quota | None:
        """The call quota of ``product`` under this grant; None when unlimited."""
        quota = self.quotas.get(product)
        if quota is None and self.calls_per_day is not None:
            quota = Quota(self.calls_per_day, "day")
        return quota

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
class ConsentAuthority:
    """A consent authority whose Ed25519-signed consent tokens the zone accepts.

    Attributes:
        id: The id tokens name as their ``issuer``.
        name: Who it is, for people (e.g. the e-government consent portal).
        public_key: The key its tokens must verify under.
        source: ``file:line`` of its entry in the policy files.
    """

    id: str
    name: str
    public_key: Ed25519PublicKey = field(repr=False)
    source: str = ""


@dataclass(frozen=True)
class Credential:
    """How a principal proves who it is: a token digest and/or a certificate identity."""

    principal_id: str
    token_sha256: str | None = None
    cert_identity: str | None = None
