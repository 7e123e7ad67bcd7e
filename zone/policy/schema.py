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
    """A privacy budget: epsilon > 0 (finite) and 0 <= delta < 1."""

    epsilon: float = Field(gt=0, allow_inf_nan=False)
    delta: float = Field(ge=0, lt=1)


class ProductQuotaSpec(_Strict):
    """A call quota for one product: at most ``calls`` per fixed UTC ``window``."""

    calls: int = Field(ge=0)
    window: QuotaWindow = "day"


class QuotaSpec(_Strict):
    """Call quotas of a grant, counted per product.

    ``calls_per_day`` applies to every product of the grant, each with its own counter;
    ``products`` overrides it for the products it names (another limit or window).
    """

    calls_per_day: int | None = Field(default=None, ge=0)
    products: dict[NonBlank, ProductQuotaSpec] = Field(default_factory=dict)


class TierSpec(_Strict):
    """One volume tier: calls beyond the first ``from_calls`` of a month cost ``per_call``."""

    from_calls: int = Field(ge=0)
    per_call: Money


class PriceSpec(_Strict):
    """Price of a grant's calls and jobs, in one ISO 4217 currency.

    Either a flat ``per_call`` or graduated monthly ``tiers`` (checked in
    :mod:`zone.policy.checks`); ``per_job`` prices a training job.
    """

    per_call: Money | None = None
    per_job: Money | None = None
    currency: str = Field(pattern=CURRENCY_PATTERN)
    tiers: list[TierSpec] = Field(default_factory=list)


class PrincipalSpec(_Strict):
    """One principal (caller) as written in a policy file."""

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
    """One grant as written in a policy file."""

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
    """A whole policy file; every section is optional."""

    principals: list[PrincipalSpec] = Field(default_factory=list)
    grants: list[GrantSpec] = Field(default_factory=list)
    dataset_caps: dict[str, BudgetSpec] = Field(default_factory=dict)
    consent_authorities: list[ConsentAuthoritySpec] = Field(default_factory=list)
