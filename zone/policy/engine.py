"""The policy decision engine: who is calling, and may they use this product today.

Everything here is pure (no I/O, no clock: callers pass ``today``) and immutable, so one
:class:`PolicySet` can be shared between server threads and swapped atomically on reload.
Deny by default: an empty policy set authenticates nobody and authorizes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.errors import Unauthenticated
from zone.policy.model import (
    Budget,
    ConsentAuthority,
    Credential,
    Decision,
    DecisionReason,
    Grant,
    Price,
    Principal,
    ProductRef,
    Role,
)

__all__ = [
    "EMPTY_DIGEST",
    "INVALID_CREDENTIALS",
    "MISSING_CREDENTIALS",
    "Budget",
    "Credential",
    "Decision",
    "DecisionReason",
    "Grant",
    "PolicySet",
    "Price",
    "Principal",
    "ProductRef",
    "Role",
    "new_token",
    "token_digest",
]


INVALID_CREDENTIALS = "invalid or expired credentials"
MISSING_CREDENTIALS = "missing credentials"
EMPTY_DIGEST = "sha256:" + hashlib.sha256(b"").hexdigest()

# Stands in for principals without a token digest: never equal to a hex digest, same length.
_NO_TOKEN = b"!" * 64


def token_digest(token: str) -> str:
    """Lowercase hex SHA-256 of a bearer token (UTF-8), as stored in ``token_sha256``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh random bearer token (256 bits, URL-safe) for a new principal."""
    return secrets.token_urlsafe(32)


def _deny(reason: DecisionReason) -> Decision:
    return Decision(False, reason, None)


@dataclass(frozen=True, eq=False)
class PolicySet:
    """An immutable, loaded set of principals, grants and dataset caps.

    Attributes:
        digest: ``sha256:...`` over the policy files, recorded in receipts.
        principals: Principals by id.
        grants: Every grant, in file order.
        dataset_caps: Zone-wide budget cap per dataset.
        source_files: The policy files, relative to the source root.
        product_ids: Product ids known when the policies were loaded.
        credentials: One entry per principal; not shown in ``repr``.
        consent_authorities: Authorities whose consent tokens are accepted, by id.
    """

    digest: str = EMPTY_DIGEST
    principals: Mapping[str, Principal] = field(default_factory=dict)
    grants: tuple[Grant, ...] = ()
    dataset_caps: Mapping[str, Budget] = field(default_factory=dict)
    source_files: tuple[str, ...] = ()
    product_ids: frozenset[str] = frozenset()
    credentials: tuple[Credential, ...] = field(default=(), repr=False)
    consent_authorities: Mapping[str, ConsentAuthority] = field(default_factory=dict)
    _tokens: tuple[tuple[bytes, str], ...] = field(init=False, repr=False)
    _certs: Mapping[str, str] = field(init=False, repr=False)
    _by_principal: Mapping[str, tuple[Grant, ...]] = field(init=False, repr=False)
    _consent_keys: Mapping[str, Ed25519PublicKey] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = {c.principal_id for c in self.credentials} - set(self.principals)
        if unknown:
            raise ValueError(f"credentials for unknown principals: {sorted(unknown)}")
        by_principal: dict[str, list[Grant]] = {}
        for grant in self.grants:
            by_principal.setdefault(grant.principal, []).append(grant)
        tokens = tuple(
            ((c.token_sha256 or "").encode("ascii") or _NO_TOKEN, c.principal_id)
            for c in self.credentials
        )
        certs = {c.cert_identity: c.principal_id for c in self.credentials if c.cert_identity}
        frozen = {
            "principals": MappingProxyType(dict(self.principals)),
            "grants": tuple(self.grants),
            "dataset_caps": MappingProxyType(dict(self.dataset_caps)),
            "source_files": tuple(self.source_files),
            "product_ids": frozenset(self.product_ids),
            "credentials": tuple(self.credentials),
            "consent_authorities": MappingProxyType(dict(self.consent_authorities)),
            "_consent_keys": MappingProxyType(
                {a.id: a.public_key for a in self.consent_authorities.values()}
            ),
            "_tokens": tokens,
            "_certs": MappingProxyType(certs),
            "_by_principal": MappingProxyType({k: tuple(v) for k, v in by_principal.items()}),
        }
        for name, value in frozen.items():
            object.__setattr__(self, name, value)

    @classmethod
    def empty(cls) -> PolicySet:
        """A policy set that authenticates nobody and authorizes nothing."""
        return cls()

    def authenticate_token(self, token: str, today: date) -> Principal:
        """The principal whose ``token_sha256`` is the digest of ``token``.

        Every principal's digest is compared in constant time, with no early exit.

        Raises:
            Unauthenticated: reason ``no_credentials``, ``bad_token`` or ``principal_expired``.
        """
        if not token:
            raise Unauthenticated(MISSING_CREDENTIALS, reason="no_credentials")
        presented = token_digest(token).encode("ascii")
        found: str | None = None
        for digest, principal_id in self._tokens:
            if hmac.compare_digest(presented, digest) and found is None:
                found = principal_id
        if found is None:
            raise Unauthenticated(INVALID_CREDENTIALS, reason="bad_token")
        return self._valid_principal(found, today)

    def authenticate_certificate(self, identity: str, today: date) -> Principal:
        """The principal whose ``cert_identity`` is exactly ``identity`` (the client cert CN).

        Raises:
            Unauthenticated: reason ``no_credentials``, ``bad_certificate`` or
                ``principal_expired``.
        """
        if not identity:
            raise Unauthenticated(MISSING_CREDENTIALS, reason="no_credentials")
        found = self._certs.get(identity)
        if found is None:
            raise Unauthenticated(INVALID_CREDENTIALS, reason="bad_certificate")
        return self._valid_principal(found, today)

    def _valid_principal(self, principal_id: str, today: date) -> Principal:
        principal = self.principals[principal_id]
        if not principal.is_valid_on(today):
            raise Unauthenticated(INVALID_CREDENTIALS, reason="principal_expired")
        return principal

    def consent_keys(self) -> Mapping[str, Ed25519PublicKey]:
        """The public key of each consent authority by id (to verify consent tokens)."""
        return self._consent_keys

    def grants_of(self, principal_id: str) -> tuple[Grant, ...]:
        """Every grant naming ``principal_id``, in file order, whatever its validity."""
        return self._by_principal.get(principal_id, ())

    def authorize(self, principal: Principal, product_id: str, today: date) -> Decision:
        """Decide whether ``principal`` may use ``product_id`` today; never raises.

        The principal is looked up again in this policy set, so a principal authenticated
        under an older policy is judged by the current one. Admins get no implicit grants.
        """
        current = self.principals.get(principal.id)
        if current is None:
            return _deny("no_grant")
        if not current.is_valid_on(today):
            return _deny("principal_expired")
        if product_id not in self.product_ids:
            return _deny("unknown_product")
        candidates = [g for g in self.grants_of(current.id) if product_id in g.products]
        if not candidates:
            return _deny("no_grant")
        for grant in candidates:
            if grant.is_valid_on(today):
                return Decision(True, "ok", grant)
        if any(g.valid_from is not None and today < g.valid_from for g in candidates):
            return _deny("grant_not_yet_valid")
        return _deny("grant_expired")

    def granted_products(self, principal: Principal, today: date) -> dict[str, Grant]:
        """Product id -> the grant in force today (the first valid one), for ``principal``."""
        current = self.principals.get(principal.id)
        if current is None or not current.is_valid_on(today):
            return {}
        out: dict[str, Grant] = {}
        for grant in self.grants_of(current.id):
            if not grant.is_valid_on(today):
                continue
            for product in grant.products:
                if product in self.product_ids:
                    out.setdefault(product, grant)
        return out
