"""Pydantic models for authorization policy files (``policies/*.yaml``).

The models check each value on its own (types, ranges, patterns, unknown keys). Checks that
relate several values (credentials present, validity windows, references to principals,
products and datasets) live in :mod:`zone.policy.checks`, so that each problem can be reported
at the line of the value that causes it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from zone.consent.keys import decode_authority_key
from zone.money import parse_decimal

PRINCIPAL_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
TOKEN_DIGEST_PATTERN = r"^[0-9a-f]{64}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"

PLAINTEXT_TOKEN_MESSAGE = (
    "plaintext tokens must not appear in policies; store token_sha256 (the SHA-256 hex digest "
    "of the token) instead"
)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlank = Annotated[str, Field(max_length=1000), AfterValidator(_not_blank)]
PrincipalId = Annotated[str, Field(pattern=PRINCIPAL_ID_PATTERN)]
Money = Annotated[Decimal, BeforeValidator(parse_decimal)]
"""An exact amount of a currency (at most 6 decimal places), see :mod:`zone.money`."""
QuotaWindow = Literal["minute", "hour", "day"]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class BudgetSpec(_Strict):
    """A privacy budget: epsilon > 0 (finite) and 0 <= delta < 1.

    Attributes:
        epsilon: Total epsilon that may be spent, over the life of the grant (or, as a
            dataset cap, by every principal together).
        delta: Total delta (spent by training jobs and DP key selection; statistics without
            key selection spend none).
    """

    epsilon: float = Field(gt=0, allow_inf_nan=False)
    delta: float = Field(ge=0, lt=1)


class ProductQuotaSpec(_Strict):
    """A call quota for one product: at most ``calls`` per fixed UTC ``window``.

    Attributes:
        calls: Calls (or training jobs) allowed per window.
        window: ``minute``, ``hour`` or ``day`` (fixed UTC windows).
    """

    calls: int = Field(ge=0)
    window: QuotaWindow = "day"


class QuotaSpec(_Strict):
    """Call quotas of a grant, counted per product.

    ``calls_per_day`` applies to every product of the grant, each with its own counter;
    ``products`` overrides it for the products it names (another limit or window).

    Attributes:
        calls_per_day: Calls per UTC day, counted per product (omitted: unlimited).
        products: Quota per product id, overriding ``calls_per_day`` for that product.
    """

    calls_per_day: int | None = Field(default=None, ge=0)
    products: dict[NonBlank, ProductQuotaSpec] = Field(default_factory=dict)


class TierSpec(_Strict):
    """One volume tier: calls beyond the first ``from_calls`` of a month cost ``per_call``.

    Attributes:
        from_calls: Calls of the UTC month before this tier applies (the first tier: 0).
        per_call: Price of each call in the tier.
    """

    from_calls: int = Field(ge=0)
    per_call: Money


class PriceSpec(_Strict):
    """Price of a grant's calls and jobs, in one ISO 4217 currency.

    Either a flat ``per_call`` or graduated monthly ``tiers`` (checked in
    :mod:`zone.policy.checks`); ``per_job`` prices a training job.

    Attributes:
        per_call: Price of each call (exact decimal, at most 6 places).
        per_job: Price of each training job.
        currency: ISO 4217 code, e.g. ``CNY``.
        tiers: Graduated monthly prices instead of ``per_call``, by increasing ``from_calls``.
    """

    per_call: Money | None = None
    per_job: Money | None = None
    currency: str = Field(pattern=CURRENCY_PATTERN)
    tiers: list[TierSpec] = Field(default_factory=list)


class PrincipalSpec(_Strict):
    """One principal (caller) as written in a policy file.

    Attributes:
        id: The principal's id, unique across the policy files.
        role: ``operator`` and ``researcher`` use the products granted to them; ``admin`` may
            also reload policies and read budgets, usage, revenue and the audit.
        organisation: Who the principal is.
        token_sha256: SHA-256 hex digest of its bearer token (``zone token new`` prints both).
        cert_identity: Common name of its mTLS client certificate (needs ``tls.client_ca``).
        valid_from: First day it may call (inclusive).
        valid_until: Last day it may call (inclusive); afterwards its calls are refused.
        token: Refused: a plaintext token must never be written here (use ``token_sha256``).
    """

    id: PrincipalId
    role: Literal["operator", "researcher", "admin", "supervisor"]
    organisation: NonBlank
    token_sha256: str | None = Field(default=None, pattern=TOKEN_DIGEST_PATTERN)
    cert_identity: NonBlank | None = None
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None
    # Declared only to refuse it with a helpful message; never stored.
    token: object = Field(default=None, exclude=True, repr=False)

    @field_validator("token", mode="before")
    @classmethod
    def _refuse_plaintext_token(cls, value: object) -> object:
        raise ValueError(PLAINTEXT_TOKEN_MESSAGE)


class GrantSpec(_Strict):
    """One grant as written in a policy file.

    Attributes:
        principal: Id of the principal the grant is for.
        products: Product ids the grant covers.
        budget: Privacy budget per dataset the products read (required for statistics and
            training products).
        per_job_epsilon: Largest epsilon one query or job may spend (below the product's own
            cap, if lower).
        quota: Call quotas.
        price: What calls and jobs cost (omitted: free, still metered).
        purpose: The declared purpose of use (recorded with every release).
        public_interest: Free of charge but still metered; the list price is recorded as
            waived.
        valid_from: First day the grant is in force (inclusive).
        valid_until: Last day the grant is in force (inclusive).
    """

    principal: PrincipalId
    products: list[NonBlank] = Field(min_length=1)
    budget: dict[str, BudgetSpec] = Field(default_factory=dict)
    per_job_epsilon: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    quota: QuotaSpec | None = None
    price: PriceSpec | None = None
    purpose: NonBlank
    public_interest: bool = False
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None


class ConsentAuthoritySpec(_Strict):
    """A consent authority (e.g. an e-government consent portal) whose tokens the zone accepts.

    ``public_key`` is its Ed25519 public key: the 32 raw bytes in base64, or PEM.

    Attributes:
        id: The authority's id, named in the consent tokens it signs.
        name: Who it is.
        public_key: Its Ed25519 public key (32 raw bytes in base64, or PEM).
    """

    id: PrincipalId
    name: NonBlank
    public_key: str = Field(max_length=1000)

    @field_validator("public_key")
    @classmethod
    def _ed25519_public_key(cls, value: str) -> str:
        decode_authority_key(value)
        return value


class PolicyFile(_Strict):
    """A whole policy file; every section is optional.

    Attributes:
        principals: Callers and their credentials.
        grants: What each principal may use, with budget, quota and price.
        dataset_caps: Zone-wide privacy budget per dataset, shared by every principal
            (operators can pool their answers, so the zone bounds the total).
        consent_authorities: Authorities whose signed consent tokens verification accepts.
    """

    principals: list[PrincipalSpec] = Field(default_factory=list)
    grants: list[GrantSpec] = Field(default_factory=list)
    dataset_caps: dict[str, BudgetSpec] = Field(default_factory=dict)
    consent_authorities: list[ConsentAuthoritySpec] = Field(default_factory=list)
