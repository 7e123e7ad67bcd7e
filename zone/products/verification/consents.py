"""Consents as operators and administrators manage them (the ConsentService, without grpc).

Operators register the consents they collected for products declared ``consent: operator``
(the product must be granted to them), look up and revoke their own; each registration and
revocation commits with its audit record (``consent.register``, ``consent.revoke``) in one
durable transaction. Administrators list the checks made without consent of products that
require it now, and report what one consent authorized and admitted. The records and their
rules are ``zone.consent``'s; this module adds who may do what.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from zone.access import authorize_product
from zone.audit import AuditChain
from zone.catalog import Product, VerificationProduct
from zone.consent import (
    ConsentRecord,
    ConsentReport,
    ConsentUse,
    TokenRevocation,
    checked_without_consent,
    consent_report,
    get,
    list_own,
    register,
    revoke,
    revoke_token,
)
from zone.consent.revocations import is_token_label
from zone.errors import FailedPrecondition, NotFound
from zone.policy import PolicySet, Principal
from zone.state.api import State


@dataclass(frozen=True)
class ConsentRequest:
    """What an operator registers: the terms of one consent and its letter's digest."""

    product: str
    subject: str
    purpose: str
    not_before: datetime | None
    """None: from now."""
    not_after: datetime
    max_uses: int
    letter_sha256: str


class ConsentDesk:
    """Registration, revocation and review of consents (see the module docstring)."""

    def __init__(
        self,
        products: Mapping[str, Product],
        state: State,
        audit: AuditChain,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._products = products
        self._state = state
        self._audit = audit
        self._clock = clock

    def register(
        self, policies: PolicySet, principal: Principal, request: ConsentRequest, request_id: str
    ) -> ConsentRecord:
        """Record a consent ``principal`` collected for a product granted to it; audited.

        Raises:
            PermissionDenied: the product is not granted to the principal.
            InvalidArgument: not a verification product, or terms with problems (all listed).
            FailedPrecondition: the product does not take registered consents.
        """
        product, _ = authorize_product(
            policies, principal, self._products, request.product, VerificationProduct
        )
        if product.consent != "operator":
            raise FailedPrecondition(
                f"product {product.id!r} declares consent: {product.consent}; it takes no "
                "registered consents",
                reason="consent_not_registrable",
            )
        now = self._clock()
        with self._state.write() as tx:
            record = register(
                tx,
                principal=principal.id,
                product=product.id,
                subject=request.subject,
                purpose=request.purpose,
                not_before=request.not_before or now,
                not_after=request.not_after,
                max_uses=request.max_uses,
                letter_sha256=request.letter_sha256,
                now=now,
            )
            self._audit.append("consent.register", _audited(record, request_id), conn=tx)
        return record

    def revoke(
        self, principal: Principal, consent_id: str, reason: str, request_id: str
    ) -> ConsentRecord:
        """Revoke one of ``principal``'s consents (idempotent); audited.

        Raises:
            NotFound: no such consent of the principal's (another's reads the same).
            InvalidArgument: a reason over 256 characters.
        """
        with self._state.write() as tx:
            record = revoke(
                tx, principal=principal.id, consent_id=consent_id, now=self._clock(), reason=reason
            )
            self._audit.append("consent.revoke", _audited(record, request_id), conn=tx)
        return record

    def describe(self, principal: Principal, consent_id: str) -> ConsentRecord:
        """One of ``principal``'s consents, with its uses.

        Raises:
            NotFound: no such consent of the principal's (another's reads the same).
        """
        with self._state.read() as tx:
            return get(tx, principal=principal.id, consent_id=consent_id)

    def listing(
        self,
        principal: Principal,
        *,
        product: str = "",
        subject: str = "",
        after: str = "",
        limit: int = 1000,
    ) -> list[ConsentRecord]:
        """``principal``'s own registered consents by id (see ``zone.consent.list_own``).

        Raises:
            InvalidArgument: ``limit`` out of range.
        """
        with self._state.read() as tx:
            return list_own(
                tx,
                principal=principal.id,
                product=product,
                subject=subject,
                after=after,
                limit=limit,
            )

    def without_consent(self, *, after_use: int, limit: int) -> list[ConsentUse]:
        """Checks of products that require consent now, made without one (admin).

        Raises:
            InvalidArgument: ``limit`` out of range.
        """
        requiring = {
            pid
            for pid, product in self._products.items()
            if isinstance(product, VerificationProduct) and product.consent != "none"
        }
        with self._state.read() as tx:
            return checked_without_consent(
                tx, requiring=requiring, after_use=after_use, limit=limit
            )

    def revoke_token(
        self,
        policies: PolicySet,
        principal: Principal,
        consent: str,
        reason: str,
        request_id: str,
    ) -> TokenRevocation:
        """List an authority's token as revoked, on the authority's behalf (admin); audited.

        Raises:
            InvalidArgument: not ``issuer/id``, or a reason over 256 characters.
            NotFound: the issuer is not a consent authority of the policies.
        """
        issuer = consent.rpartition("/")[0]
        if is_token_label(consent) and issuer not in policies.consent_keys():
            raise NotFound("no such consent authority", reason="unknown_issuer")
        with self._state.write() as tx:
            revocation = revoke_token(
                tx, consent=consent, reason=reason, revoked_by=principal.id, now=self._clock()
            )
            record = {
                "consent": revocation.label,
                "reason": revocation.reason,
                "revoked_by": revocation.revoked_by,
                "revoked_at": revocation.revoked_at.isoformat(),
                "request_id": request_id,
            }
            self._audit.append("consent.revoke_token", record, conn=tx)
        return revocation

    def report(self, consent: str, *, limit: int) -> ConsentReport:
        """What one consent authorized and admitted (admin).

        Raises:
            NotFound: no such consent.
            InvalidArgument: ``limit`` out of range.
        """
        with self._state.read() as tx:
            return consent_report(tx, consent, limit=limit)


def _audited(record: ConsentRecord, request_id: str) -> dict[str, object]:
    return {**record.describe(), "request_id": request_id}
