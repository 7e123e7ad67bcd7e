"""A Match or Score call, end to end: authorize, validate, admit, compute, receipt.

The order is the guarantee: everything that can refuse a call (authorization, request shape,
key ownership and parameters, every ciphertext) is checked before the call is admitted, and
admission (per-subject windows, scoring budget, the grant's call quota and price) commits
before any homomorphic work runs. Nothing is decrypted here; no secret key exists in
this process. Verification spends no privacy budget (epsilon 0, delta 0 on the receipt): the
caller learns exact answers about the subjects it names, which is the product's purpose, and
the abuse limits (not DP) bound how much it can learn.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from zone.access import authorize_product
from zone.audit import AuditChain
from zone.catalog import DatasetCatalog, Product, VerificationProduct
from zone.config import VerificationConfig
from zone.errors import FailedPrecondition, InvalidArgument, NotFound
from zone.models.registry import ModelRegistry
from zone.models.reviews import ModelReviews
from zone.policy import Grant, PolicySet, Principal
from zone.products.verification.calls import Call, artifact, receipt
from zone.products.verification.compute import (
    answer_claims,
    answer_scores,
    block_count,
    replies_needed,
)
from zone.products.verification.keys import KeyInfo, KeyStore, read_upload
from zone.products.verification.limits import CheckLimiter, take_score_budget
from zone.products.verification.models import ScoreModel, product_model, registry_model
from zone.products.verification.records import (
    ProductRecords,
    RecordCache,
    check_distinct,
    check_subjects,
)
from zone.products.verification.replies import (
    Ciphertexts,
    MatchAnswer,
    MatchQuery,
    ScoreAnswer,
    ScoreQuery,
)
from zone.products.verification.validate import load_vector
from zone.release.desk import Order, ReleaseDesk, Ticket
from zone.state.api import State, Tx
from zone.wire.fresh import FreshZeros
from zone.wire.he_params import BFV_MATCH, CKKS_SCORE, ParamSet
from zone.wire.replies import FOUND, MISSING_DATA, NOT_FOUND, reply_digest

MAX_PURPOSE = 256


def _check_purpose(purpose: str) -> None:
    if not purpose.strip() or len(purpose) > MAX_PURPOSE:
        raise InvalidArgument(
            f"state the purpose of the check (1 to {MAX_PURPOSE} characters)", reason="no_purpose"
        )


def _load_blocks(
    context: Any, params: ParamSet, group: Ciphertexts, blocks: int, what: str
) -> list[Any]:
    if len(group.blocks) != blocks:
        raise InvalidArgument(
            f"{what} {group.name!r}: expected {blocks} ciphertext(s), one per block of "
            f"{params.slot_count} subjects",
            reason="bad_block_count",
        )
    return [
        load_vector(context, params, blob, f"{what} {group.name!r} block {b}")
        for b, blob in enumerate(group.blocks)
    ]


class VerificationService:
    """Keys, Match and Score for callers of the zone (no grpc here)."""

    def __init__(
        self,
        products: Mapping[str, Product],
        catalog: DatasetCatalog,
        config: VerificationConfig,
        *,
        max_message_bytes: int,
        state: State,
        audit: AuditChain,
        desk: ReleaseDesk,
        models: ModelRegistry,
        reviews: ModelReviews,
    ) -> None:
        self._products = products
        self._catalog = catalog
        self._max_key_bytes = config.max_key_bytes
        self._max_message_bytes = max_message_bytes
        self._desk = desk
        self.keys = KeyStore(state, audit, max_keys=config.max_keys_per_principal)
        self._records = RecordCache()
        self._limiter = CheckLimiter(state)
        self._models = models
        self._reviews = reviews
        self.zeros = FreshZeros(config.precompute_bytes)

    def close(self) -> None:
        """Stop precomputing encryptions of zero."""
        self.zeros.close()

    # --- keys -------------------------------------------------------------------------------

    def register_key(
        self, principal: Principal, chunks: Iterable[tuple[str, bytes]], request_id: str
    ) -> KeyInfo:
        """Read an uploaded public context (capped), check it and store it for ``principal``.

        Raises:
            InvalidArgument: over the size cap, an incomplete upload, or a context that fails
                the checks (secret key, other parameters, extra keys, malformed).
            TooManyKeys: the principal holds the maximum of active keys.
        """
        name, blob = read_upload(chunks, self._max_key_bytes)
        return self.keys.register(principal.id, name, blob, request_id)

    def revoke_key(self, principal: Principal, key_id: str, request_id: str) -> KeyInfo:
        """Revoke one of the principal's keys (idempotent) and drop its precomputed zeros.

        Raises:
            NotFound: unknown id, or another principal's key.
        """
        info = self.keys.revoke(principal.id, key_id, request_id)
        self.zeros.forget(key_id)
        return info

    # --- match ------------------------------------------------------------------------------

    def match(
        self, policies: PolicySet, principal: Principal, query: MatchQuery, request_id: str
    ) -> MatchAnswer:
        """Compare encrypted claims with the dataset; the caller decrypts match / no match.

        Guarantee: per subject found and claim, the caller can decrypt only whether
        ``|claimed - recorded| <= tolerance`` (see ``match``); not-found subjects are reported
        in clear; no privacy budget is spent.

        Raises:
            PermissionDenied: product not granted.
            InvalidArgument: malformed request, key of another scheme, bad ciphertexts.
            NotFound / FailedPrecondition: unknown (or another principal's) / revoked key.
            ResourceExhausted: a per-subject window is full (nothing computed).
        """
        with self.zeros.computing():  # no precomputation while a call runs
            return self._match(policies, principal, query, request_id)

    def _match(
        self, policies: PolicySet, principal: Principal, query: MatchQuery, request_id: str
    ) -> MatchAnswer:
        product, grant = self._authorize(policies, principal, query.product, query.purpose)
        subjects_text = check_subjects(query.subjects, product.limits.max_subjects_per_call)
        params = BFV_MATCH
        blocks = block_count(len(query.subjects), params.slot_count)
        names = [group.name for group in query.claims]
        if not names or len(set(names)) != len(names) or not set(names) <= set(product.claims):
            raise InvalidArgument(
                "claims must be distinct columns among the product's claims", reason="bad_claims"
            )
        replies = replies_needed(product, names, blocks)
        self._check_reply_size(replies, params)
        context = self.keys.context_for(principal.id, query.key_id, params)
        claimed = {g.name: _load_blocks(context, params, g, blocks, "claim") for g in query.claims}
        records, version = self._product_records(product)
        rows = records.lookup(query.subjects)
        check_distinct(query.subjects, rows)
        call = Call(policies, principal, grant, product, "match", query, request_id,
                    uuid.uuid4().hex, subjects_text)  # fmt: skip
        ticket = self._admit(call, rows, records)
        with self._desk.failing(ticket):
            zeros = self.zeros.take(query.key_id, context, params, replies)
            answers = answer_claims(context, params, product, claimed, records, rows, zeros)
        status = np.where(rows >= 0, FOUND, NOT_FOUND).astype(np.int8)
        digest = reply_digest("match", status, [(a.name, a.ciphertexts) for a in answers])
        found = int(np.count_nonzero(rows >= 0))
        record = receipt(call, version=version, digest=digest, params=params, answered=found,
                         terms={"claims": names})  # fmt: skip
        self._desk.release(ticket, record, artifact(record))
        return MatchAnswer(call.release_id, status, answers, params.slot_count, version, digest)

    # --- score ------------------------------------------------------------------------------

    def score(
        self, policies: PolicySet, principal: Principal, query: ScoreQuery, request_id: str
    ) -> ScoreAnswer:
        """Score subjects with the caller's encrypted features and the zone's own.

        Guarantee: per scored subject the caller can decrypt ``logit + e`` with flooding noise
        ``e ~ N(0, noise_stddev^2)``; not-found and incomplete subjects are reported in clear;
        no privacy budget is spent; the subjects count against the per-model budget.

        Raises:
            PermissionDenied: product not granted.
            InvalidArgument: malformed request, features not the model's, bad ciphertexts.
            NotFound: unknown key or model (or another principal's).
            FailedPrecondition: revoked key, or no scoring model.
            ResourceExhausted: a per-subject window or the model's budget is full.
        """
        with self.zeros.computing():  # no precomputation while a call runs
            return self._score(policies, principal, query, request_id)

    def _score(
        self, policies: PolicySet, principal: Principal, query: ScoreQuery, request_id: str
    ) -> ScoreAnswer:
        product, grant = self._authorize(policies, principal, query.product, query.purpose)
        subjects_text = check_subjects(query.subjects, product.limits.max_subjects_per_call)
        model = self._score_model(principal, product, query.model_id)
        params = CKKS_SCORE
        blocks = block_count(len(query.subjects), params.slot_count)
        if [g.name for g in query.features] != [f.name for f in model.caller_features]:
            raise InvalidArgument(
                "send exactly the model's caller features, in its order", reason="bad_features"
            )
        self._check_reply_size(blocks, params)
        context = self.keys.context_for(principal.id, query.key_id, params)
        features = [_load_blocks(context, params, g, blocks, "feature") for g in query.features]
        records, version = self._product_records(product)
        rows = records.lookup(query.subjects)
        check_distinct(query.subjects, rows)
        zone_part, complete = model.zone_part(records, rows)
        call = Call(policies, principal, grant, product, "score", query, request_id,
                    uuid.uuid4().hex, subjects_text)  # fmt: skip
        scored = int(np.count_nonzero(complete))
        ticket = self._admit(call, rows, records, model=model, scored=scored)
        with self._desk.failing(ticket):
            zeros = self.zeros.take(query.key_id, context, params, blocks)
            logits = answer_scores(params, model, features, zone_part, complete, zeros)
        status = np.where(rows < 0, NOT_FOUND, np.where(complete, FOUND, MISSING_DATA))
        status = status.astype(np.int8)
        digest = reply_digest("score", status, [("logits", logits)])
        terms = {"model": model.ref, "noise_stddev": model.noise_stddev}
        record = receipt(call, version=version, digest=digest, params=params, answered=scored,
                         terms=terms)  # fmt: skip
        self._desk.release(ticket, record, artifact(record))
        return ScoreAnswer(call.release_id, status, logits, params.slot_count, model.link,
                           model.noise_stddev, model.ref, version, digest)  # fmt: skip

    # --- steps ------------------------------------------------------------------------------

    def _authorize(
        self, policies: PolicySet, principal: Principal, product_id: str, purpose: str
    ) -> tuple[VerificationProduct, Grant]:
        product, grant = authorize_product(
            policies, principal, self._products, product_id, VerificationProduct
        )
        _check_purpose(purpose)
        return product, grant

    def _check_reply_size(self, ciphertexts: int, params: ParamSet) -> None:
        limit = self._max_message_bytes
        if ciphertexts * params.max_ciphertext_bytes > limit - 64 * 1024:
            raise InvalidArgument(
                "the reply would exceed the message size limit: send fewer subjects per call",
                reason="reply_too_large",
            )

    def _product_records(self, product: VerificationProduct) -> tuple[ProductRecords, str]:
        catalog = self._catalog
        version = catalog.get(product.dataset).version
        return self._records.get(product, version, catalog.cursor), version

    def _score_model(
        self, principal: Principal, product: VerificationProduct, model_id: str
    ) -> ScoreModel:
        if not model_id:
            return product_model(product, self._catalog.get(product.dataset).meta)
        try:
            record = self._models.get_model(model_id)
        except NotFound:
            record = None
        if record is None or record.owner != principal.id:
            raise NotFound("no such model", reason="unknown_model")
        model = registry_model(record, product, self._products)
        decision = self._reviews.decision(record.model_id, product.id)
        if decision is None or not decision.approved:
            raise FailedPrecondition(
                "this model is not approved to score for this product (an administrator "
                "reviews it: zone models review)",
                reason="model_not_approved",
            )
        return model

    def _admit(
        self,
        call: Call,
        rows: np.ndarray[Any, Any],
        records: ProductRecords,
        *,
        model: ScoreModel | None = None,
        scored: int = 0,
    ) -> Ticket:
        """Admit the call (valid, nothing computed yet) or refuse it with nothing changed.

        The per-subject window, for Score the model's query budget, and the grant's call quota
        and price are taken in one transaction (the release desk's) with the check log row.

        Raises:
            SubjectLimitReached: a subject's window is full.
            ScoreBudgetExhausted: the model's budget cannot cover the subjects scored.
            QuotaExhausted: the grant's call quota for this product is spent.
        """
        limits = call.product.limits
        order = Order(call.principal.id, call.grant, call.product.id, "call", call.request_id,
                      release_id=call.release_id)  # fmt: skip
        with self._limiter.admitting(
            call.log, rows[rows >= 0], records,
            limit=limits.checks_per_subject, window_hours=limits.window_hours,
        ) as record_checks:  # fmt: skip

            def admit(tx: Tx) -> None:
                record_checks(tx)
                if model is not None:
                    take_score_budget(
                        tx, principal=call.principal.id, product=call.product.id,
                        model=model.ref, count=scored, budget=limits.score_queries_per_model,
                    )  # fmt: skip

            # Not durable: the receipt, written durably before the reply, makes it so.
            return self._desk.reserve(order, admit=admit, durable=False)
