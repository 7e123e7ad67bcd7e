"""A Match or Score call, end to end: authorize, validate, admit, compute, receipt.

The order is the guarantee: everything that can refuse a call (authorization, request shape,
every blinded element or ciphertext, key ownership and parameters, the consent list's shape)
is checked before the call is admitted, and admission (consents, per-subject windows, scoring
budget, the grant's call quota and price: ``admission``) commits before any evaluation runs.

Match is a keyed oblivious PRF (``pet``, ``matching``): the zone never sees a claimed value,
and the caller learns, per subject and claim, whether its one claimed value is within the
tolerance of the recorded one, whatever bytes it sends (docs/SECURITY.md). Score is CKKS under
the caller's key: nothing is decrypted here and no secret key exists in this process.
Verification spends no privacy budget (epsilon 0, delta 0 on the receipt): the caller learns
exact answers about the subjects it names, which is the product's purpose, and the abuse
limits (not DP) bound how much it can learn.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from zone.access import authorize_product
from zone.audit import AuditChain
from zone.catalog import DatasetCatalog, Product, VerificationProduct
from zone.catalog._verification import MATCH_PROTOCOL
from zone.config import VerificationConfig
from zone.errors import FailedPrecondition, InvalidArgument, NotFound
from zone.models.lineage import require_serving, trained_on
from zone.models.registry import ModelRegistry
from zone.models.reviews import ModelReviews
from zone.policy import Grant, PolicySet, Principal
from zone.products.verification import matching
from zone.products.verification.admission import Admission, Admitted, check_consent_refs
from zone.products.verification.calls import Call, artifact, consent_terms, receipt
from zone.products.verification.compute import (
    answer_scores,
    block_count,
    check_lanes,
    load_features,
)
from zone.products.verification.keys import KeyInfo, KeyStore, read_upload
from zone.products.verification.limits import CheckLimiter
from zone.products.verification.models import (
    ScoreModel,
    product_model,
    registry_model,
    require_rules,
)
from zone.products.verification.pet import filler
from zone.products.verification.records import (
    ProductRecords,
    RecordCache,
    check_distinct,
    check_subjects,
)
from zone.products.verification.replies import (
    EvaluatedClaim,
    MatchAnswer,
    MatchQuery,
    ScoreAnswer,
    ScoreQuery,
)
from zone.products.verification.secret import MasterSecret
from zone.products.verification.workers import MatchWorkers
from zone.products.verification.zeros import ZeroSupply, spawned_supply
from zone.release.desk import ReleaseDesk
from zone.state.api import State
from zone.wire.fresh import FreshZeros
from zone.wire.he_params import CKKS_SCORE, ParamSet
from zone.wire.replies import (
    CONSENT_REFUSED,
    FOUND,
    MISSING_DATA,
    NOT_FOUND,
    refusal_group,
    reply_digest,
)

MAX_PURPOSE = 256
REPLY_HEADROOM = 64 * 1024
"""Bytes of a reply's message limit kept for everything but the evaluations or ciphertexts."""


def _check_purpose(purpose: str) -> None:
    if not purpose.strip() or len(purpose) > MAX_PURPOSE:
        raise InvalidArgument(
            f"state the purpose of the check (1 to {MAX_PURPOSE} characters)", reason="no_purpose"
        )


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
        secret: MasterSecret,
        workers: MatchWorkers,
    ) -> None:
        self._products = products
        self._catalog = catalog
        self._max_key_bytes = config.max_key_bytes
        self._max_message_bytes = max_message_bytes
        self._desk = desk
        self.keys = KeyStore(state, audit, max_keys=config.max_keys_per_principal)
        self._records = RecordCache()
        self._admission = Admission(CheckLimiter(state), desk, audit)
        self._models = models
        self._reviews = reviews
        self._state = state
        self._secret = secret
        self._workers = workers
        # Score's encryptions of zero: a low-priority worker process, or this process when idle.
        self.zeros: ZeroSupply | FreshZeros = spawned_supply(
            config.zero_workers, config.precompute_bytes
        ) or FreshZeros(config.precompute_bytes)

    def close(self) -> None:
        """Stop the Match workers and the precomputation of encryptions of zero."""
        self._workers.close()
        self.zeros.close()

    # --- keys (Score) -----------------------------------------------------------------------

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
        info = self.keys.register(principal.id, name, blob, request_id)
        if isinstance(self.zeros, ZeroSupply):
            self.zeros.warm()
        return info

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
        """Answer blinded claims; the caller reads match / no match per subject and claim.

        Guarantee (docs/SECURITY.md): per admitted subject and claim column the caller learns
        whether one value of its choice is within the column's public tolerance of the
        recorded value, nothing else about it, whatever elements it sends; the zone learns
        nothing about the claims. Subjects not found are reported in clear (``membership:
        disclosed``) or not at all (``hidden``). No privacy budget is spent.

        Raises:
            PermissionDenied: product not granted.
            InvalidArgument: malformed request, bad blinded elements, bad consent list or
                token (nothing admitted).
            ResourceExhausted: a per-subject window or the call quota is full (nothing
                computed, nothing consumed).
        """
        product, grant = self._authorize(policies, principal, query.product, query.purpose)
        check_subjects(query.subjects, product.limits.max_subjects_per_call)
        check_consent_refs(query.consents, len(query.subjects))
        batches = matching.claim_batches(product, query.claims, query.subjects)
        self._check_reply_size(matching.reply_size(batches))
        records, version = self._product_records(product)
        rows = records.lookup(query.subjects)
        check_distinct(query.subjects, rows)
        call = Call(
            policies, principal, grant, product, "match", query, request_id, uuid.uuid4().hex
        )
        hidden = product.membership == "hidden"
        admitted = self._admission.admit(call, rows, records, query.consents, count_unknown=hidden)
        status = matching.statuses(rows, admitted.checked, product.membership)
        if admitted.ticket is None or admitted.log is None:  # every consent refused
            claims = tuple(
                EvaluatedClaim(b.claim, b.tolerance, filler(len(rows), b.tolerance))
                for b in batches
            )
            return self._match_answer("", status, claims, admitted, product, version)
        with self._desk.failing(admitted.ticket):
            claims = matching.evaluate(
                self._workers, self._secret.call_secret(), batches, records, rows, admitted.checked
            )
        answer = self._match_answer(call.release_id, status, claims, admitted, product, version)
        terms = {
            "claims": [b.claim for b in batches],
            "tolerances": {b.claim: b.tolerance for b in batches},
            "membership": product.membership,
            **consent_terms(admitted.outcomes, product.consent),
        }
        record = receipt(
            call,
            admitted.log,
            version=version,
            digest=answer.output_digest,
            protocol=MATCH_PROTOCOL,
            key_id="",
            answered=admitted.log.subject_count,
            terms=terms,
        )
        self._desk.release(admitted.ticket, record, artifact(record))
        return answer

    @staticmethod
    def _match_answer(
        release_id: str,
        status: Any,
        claims: tuple[EvaluatedClaim, ...],
        admitted: Admitted,
        product: VerificationProduct,
        version: str,
    ) -> MatchAnswer:
        refusals = admitted.refusals
        groups = [(c.name, [c.evaluations]) for c in claims] + [refusal_group(refusals)]
        digest = reply_digest("match", status, groups)
        return MatchAnswer(
            release_id, status, claims, refusals, product.membership, version, digest
        )

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
            FailedPrecondition: revoked key, no scoring model, or a product that hides
                membership.
            ResourceExhausted: a per-subject window or the model's budget is full.
        """
        with self.zeros.computing():  # no in-process precomputation while a call runs
            return self._score(policies, principal, query, request_id)

    def _score(
        self, policies: PolicySet, principal: Principal, query: ScoreQuery, request_id: str
    ) -> ScoreAnswer:
        product, grant = self._authorize(policies, principal, query.product, query.purpose)
        if product.membership == "hidden":  # pragma: no cover - product loading refuses it
            raise FailedPrecondition("this product hides membership and scores nothing")
        check_subjects(query.subjects, product.limits.max_subjects_per_call)
        check_consent_refs(query.consents, len(query.subjects))
        model = self._score_model(principal, product, query.model_id)
        params = CKKS_SCORE
        if [g.name for g in query.features] != [f.name for f in model.caller_features]:
            raise InvalidArgument(
                "send exactly the model's caller features, in its order", reason="bad_features"
            )
        count, slots = len(query.subjects), params.slot_count
        lanes = check_lanes(query.lanes, count, len(query.features), slots)
        blocks = block_count(count, slots)
        self._check_reply_size(blocks * params.max_ciphertext_bytes)
        context = self.keys.context_for(principal.id, query.key_id, params)
        features = load_features(context, params, query.features, lanes, count)
        records, version = self._product_records(product)
        rows = records.lookup(query.subjects)
        check_distinct(query.subjects, rows)
        zone_part, complete = model.zone_part(records, rows)
        call = Call(
            policies, principal, grant, product, "score", query, request_id, uuid.uuid4().hex
        )
        admitted = self._admission.admit(
            call, rows, records, query.consents, complete=complete, model=model.ref
        )
        live = complete & admitted.checked
        status = np.where(rows < 0, NOT_FOUND, np.where(complete, FOUND, MISSING_DATA))
        status = np.where(admitted.checked, status, CONSENT_REFUSED).astype(np.int8)
        if admitted.ticket is None or admitted.log is None:  # every consent refused
            return self._score_answer("", status, (), admitted, model, params, version, lanes)
        with self._desk.failing(admitted.ticket):
            zeros = self.zeros.take_ready(query.key_id, context, params, blocks)
            logits = answer_scores(params, model, features, zone_part, live, zeros, lanes, context)
        answer = self._score_answer(
            call.release_id, status, logits, admitted, model, params, version, lanes
        )
        terms = {
            "model": model.ref,
            "noise_stddev": model.noise_stddev,
            "lanes": lanes,
            **consent_terms(admitted.outcomes, product.consent),
        }
        record = receipt(
            call,
            admitted.log,
            version=version,
            digest=answer.output_digest,
            protocol=params.name,
            key_id=query.key_id,
            answered=int(np.count_nonzero(live)),
            terms=terms,
        )
        self._desk.release(admitted.ticket, record, artifact(record))
        return answer

    @staticmethod
    def _score_answer(
        release_id: str,
        status: Any,
        logits: tuple[bytes, ...],
        admitted: Admitted,
        model: ScoreModel,
        params: ParamSet,
        version: str,
        lanes: int,
    ) -> ScoreAnswer:
        refusals = admitted.refusals
        digest = reply_digest("score", status, [("logits", logits), refusal_group(refusals)])
        return ScoreAnswer(
            release_id,
            status,
            logits,
            params.slot_count,
            model.link,
            model.noise_stddev,
            model.ref,
            version,
            digest,
            refusals,
            lanes,
        )

    # --- steps ------------------------------------------------------------------------------

    def _authorize(
        self, policies: PolicySet, principal: Principal, product_id: str, purpose: str
    ) -> tuple[VerificationProduct, Grant]:
        product, grant = authorize_product(
            policies, principal, self._products, product_id, VerificationProduct
        )
        _check_purpose(purpose)
        return product, grant

    def _check_reply_size(self, size: int) -> None:
        if size > self._max_message_bytes - REPLY_HEADROOM:
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
        require_rules(model, product)  # an approval given before a rule does not outlive it
        serving = self._catalog.get(product.dataset).version
        require_serving(record.model_id, trained_on(self._state, record), serving, decision)
        return model
