"""Authorization policies: YAML schema, loader (every problem with file:line) and engine.

Administrators write ``policies/*.yaml``; :func:`load_policies` checks them against the approved
products and datasets and returns an immutable :class:`PolicySet`, which authenticates callers
(token digest or certificate identity) and decides ``authorize(...) -> Decision``.
"""

from __future__ import annotations

from zone.policy.engine import (
    EMPTY_DIGEST,
    INVALID_CREDENTIALS,
    MISSING_CREDENTIALS,
    PolicySet,
    new_token,
    token_digest,
)
from zone.policy.loader import load_policies
from zone.policy.model import (
    DP_PRODUCT_KINDS,
    Budget,
    ConsentAuthority,
    Credential,
    Decision,
    DecisionReason,
    Grant,
    Price,
    PriceTier,
    Principal,
    ProductRef,
    Quota,
    QuotaWindow,
    Role,
)
from zone.policy.schema import (
    PLAINTEXT_TOKEN_MESSAGE,
    BudgetSpec,
    ConsentAuthoritySpec,
    GrantSpec,
    PolicyFile,
    PriceSpec,
    PrincipalSpec,
    ProductQuotaSpec,
    QuotaSpec,
    TierSpec,
)

__all__ = [
    "DP_PRODUCT_KINDS",
    "EMPTY_DIGEST",
    "INVALID_CREDENTIALS",
    "MISSING_CREDENTIALS",
    "PLAINTEXT_TOKEN_MESSAGE",
    "Budget",
    "BudgetSpec",
    "ConsentAuthority",
    "ConsentAuthoritySpec",
    "Credential",
    "Decision",
    "DecisionReason",
    "Grant",
    "GrantSpec",
    "PolicyFile",
    "PolicySet",
    "Price",
    "PriceSpec",
    "PriceTier",
    "Principal",
    "PrincipalSpec",
    "ProductQuotaSpec",
    "ProductRef",
    "Quota",
    "QuotaSpec",
    "QuotaWindow",
    "Role",
    "TierSpec",
    "load_policies",
    "new_token",
    "token_digest",
]
