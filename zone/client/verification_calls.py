"""The SDK's verification calls: Match (blinded claims) and Score (encrypted features, keys)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

import zone.client.he as he
import zone.client.he_results as he_results
import zone.client.match as match_results
import zone.client.verification as verification_requests
from zone._proto import verification_pb2, verification_pb2_grpc
from zone.client.errors import from_rpc_error
from zone.client.types import ProductDescription

T = TypeVar("T")


class VerificationCalls:
    """Verification calls of :class:`~zone.client.client.ZoneClient` (mixed into it)."""

    _verification: verification_pb2_grpc.VerificationServiceStub
    _metadata: tuple[tuple[str, str], ...]
    _timeout: float
    _product_parameters: dict[str, dict[str, Any]]
    _call_threads: ThreadPoolExecutor

    def _call(self, method: Callable[..., T], request: Any) -> T:
        raise NotImplementedError  # provided by ZoneClient

    def describe_product(self, product_id: str) -> ProductDescription:
        """A product's public description (provided by ZoneClient)."""
        raise NotImplementedError

    # --- verification (blinding scalars and secret keys never leave this process) ---------

    def register_key(self, keys: he.HEKeys, chunk_bytes: int = he.UPLOAD_CHUNK_BYTES) -> str:
        """Upload the public part of ``keys`` (in chunks); sets and returns ``keys.key_id``."""
        info = self._call(self._verification.RegisterKey, iter(he.upload(keys, chunk_bytes)))
        keys.key_id = info.key_id
        return info.key_id

    def describe_key(self, key_id: str) -> verification_pb2.KeyInfo:
        """One of the caller's registered keys."""
        return self._call(self._verification.DescribeKey, verification_pb2.KeyRef(key_id=key_id))

    def revoke_key(self, key_id: str) -> verification_pb2.KeyInfo:
        """Revoke one of the caller's keys."""
        return self._call(self._verification.RevokeKey, verification_pb2.KeyRef(key_id=key_id))

    def match(
        self,
        product: str,
        subjects: Sequence[str],
        claims: Mapping[str, Sequence[float]],
        *,
        purpose: str,
        consents: Sequence[str] = (),
        in_flight: int = 2,
    ) -> match_results.MatchReport:
        """Check claimed values (one list per claim column, one value per subject), blinded.

        ``consents`` names each subject's consent (an operator's consent id or an authority's
        token), in subject order; none for products declared ``consent: none``. Returns per
        subject MATCH (every claim checked matches), NO_MATCH, NOT_FOUND or CONSENT_REFUSED
        (see ``zone.client.match``). A long list is sent in several calls, up to ``in_flight``
        at a time. The zone never receives a claimed value.
        """
        requests = match_results.match_requests(
            product, subjects, claims, purpose, self._parameters(product), consents
        )
        reports = verification_requests.pipelined(
            requests,
            lambda request: self._start(self._verification.Match, request, in_flight),
            match_results.match_report,
            in_flight,
        )
        return match_results.MatchReport.join(reports)

    def score_batch(
        self,
        product: str,
        keys: he.HEKeys,
        subjects: Sequence[str],
        features: Mapping[str, Sequence[float]],
        *,
        purpose: str,
        model_id: str = "",
        consents: Sequence[str] = (),
        in_flight: int = 2,
    ) -> he_results.ScoreReport:
        """Score subjects with the caller's features (encrypted) and the zone's own.

        ``consents`` as for :meth:`match`. A long list is sent in several calls, up to
        ``in_flight`` at a time.
        """
        return self._score(
            product, keys, subjects, features, purpose, model_id, consents, in_flight
        )

    def score_kept(
        self,
        product: str,
        keys: he.HEKeys,
        subjects: Sequence[str],
        features: Mapping[str, Sequence[float]],
        *,
        purpose: str,
        model_id: str,
        caller_bounds: Mapping[str, tuple[float, float]],
        consents: Sequence[str] = (),
        in_flight: int = 2,
    ) -> he_results.ScoreReport:
        """Score subjects with a kept joint model an administrator approved for ``product``.

        The caller's own features are encrypted here, scaled with ``caller_bounds`` (the
        model's operator features in order, as declared in the cohort schema; booleans
        (0, 1)); the zone adds its part. ``consents`` as for ``score_batch``. Returns logits'
        probabilities as ``score_batch``.
        """
        expected = [{"name": name, "bounds": list(b)} for name, b in caller_bounds.items()]
        return self._score(
            product, keys, subjects, features, purpose, model_id, consents, in_flight, expected
        )

    def _score(
        self,
        product: str,
        keys: he.HEKeys,
        subjects: Sequence[str],
        features: Mapping[str, Sequence[float]],
        purpose: str,
        model_id: str,
        consents: Sequence[str],
        in_flight: int,
        caller_features: Sequence[Mapping[str, Any]] | None = None,
    ) -> he_results.ScoreReport:
        requests = verification_requests.score_requests(
            product,
            keys,
            subjects,
            features,
            purpose,
            self._parameters(product),
            model_id,
            consents,
            caller_features,
        )
        reports = verification_requests.pipelined(
            requests,
            lambda request: self._start(self._verification.Score, request, in_flight),
            lambda part, reply: he_results.score_report(
                keys, part, reply, he.lanes_for(len(part), len(features), keys.params.slot_count)
            ),
            in_flight,
            keys.zeros.computing,
        )
        return he_results.ScoreReport.join(reports)

    def score(
        self,
        product: str,
        keys: he.HEKeys,
        subject: str,
        features: Mapping[str, float],
        *,
        purpose: str,
        model_id: str = "",
        consent: str = "",
    ) -> float:
        """One subject's score (probability for a logit model), or NaN when it has none."""
        batch = {name: [value] for name, value in features.items()}
        report = self.score_batch(
            product,
            keys,
            [subject],
            batch,
            purpose=purpose,
            model_id=model_id,
            consents=[consent] if consent else (),
            in_flight=1,
        )
        return float(report.values[0])

    def _start(self, method: Any, request: Any, in_flight: int = 2) -> Callable[[], Any]:
        """Start a unary call; the returned function waits for its reply (typed errors).

        With one call in flight the call is made when its reply is waited for, which
        ``verification.pipelined`` does at once. With more, a blocking call runs on one of
        the client's call threads (kept between calls). Not grpcio's future calls: grpcio
        starts a thread to drive the channel whenever a future call finds none in progress,
        and waits for it to start: 17 ms per call of a pipelined Score run on a loaded
        machine (cProfile, 2026-12-06), each time the client had waited out the previous
        reply.
        """

        def call() -> Any:
            try:
                return method(request, metadata=self._metadata, timeout=self._timeout)
            except grpc.RpcError as exc:
                raise from_rpc_error(exc) from None

        if in_flight <= 1:
            return call
        return self._call_threads.submit(call).result

    def _parameters(self, product: str) -> dict[str, Any]:
        """A product's public parameters, asked once per client (they change with a restart)."""
        if product not in self._product_parameters:
            self._product_parameters[product] = self.describe_product(product).parameters
        return self._product_parameters[product]
