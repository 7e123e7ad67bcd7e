"""The Python SDK: ``ZoneClient(target, token=...)`` with typed results and typed errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format

import zone.client.he as he
import zone.client.he_results as he_results
import zone.client.jobs as jobs
import zone.client.receipts as receipts
import zone.client.stats as stats
import zone.client.types as types
import zone.client.verification as verification_requests
from zone._proto import (
    admin_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    cohorts_pb2_grpc,
    common_pb2,
    jobs_pb2,
    jobs_pb2_grpc,
    models_pb2_grpc,
    receipts_pb2,
    receipts_pb2_grpc,
    statistics_pb2,
    statistics_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from zone.client.admin_calls import AdminCalls
from zone.client.cohorts import CohortCalls
from zone.client.errors import from_rpc_error

T = TypeVar("T")


@dataclass(frozen=True)
class TlsOptions:
    """TLS for the channel: the CA that signed the server, and a client cert for mTLS."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        """Channel credentials from the files."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_file.read_bytes(),
            private_key=self.key_file.read_bytes() if self.key_file else None,
            certificate_chain=self.cert_file.read_bytes() if self.cert_file else None,
        )


class ZoneClient(AdminCalls, CohortCalls):
    """A connection to a zone as one principal.

    Every method raises a :class:`~zone.client.errors.ZoneClientError` subclass matching the
    gRPC status (``PermissionDeniedError``, ``InvalidArgumentError``, ...).
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        tls: TlsOptions | None = None,
        timeout: float = 30.0,
        max_message_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if tls is not None:
            if tls.server_name:
                options.append(("grpc.ssl_target_name_override", tls.server_name))
            self._channel = grpc.secure_channel(target, tls.credentials(), options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        self._timeout = timeout
        self._catalog = catalog_pb2_grpc.CatalogServiceStub(self._channel)
        self._admin = admin_pb2_grpc.AdminServiceStub(self._channel)
        self._models = models_pb2_grpc.ModelServiceStub(self._channel)
        self._stats = statistics_pb2_grpc.StatisticsServiceStub(self._channel)
        self._jobs = jobs_pb2_grpc.JobServiceStub(self._channel)
        self._receipts = receipts_pb2_grpc.ReceiptServiceStub(self._channel)
        self._verification = verification_pb2_grpc.VerificationServiceStub(self._channel)
        self._cohorts = cohorts_pb2_grpc.CohortServiceStub(self._channel)
        self.he = he.HE()
        self._product_parameters: dict[str, dict[str, Any]] = {}
        """Homomorphic-encryption keys: ``client.he.new_keys("bfv-4096")``."""

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> ZoneClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    # --- catalog ---------------------------------------------------------------------------

    def list_datasets(self) -> list[types.DatasetSummary]:
        """Datasets the caller may use."""
        reply = self._call(self._catalog.ListDatasets, catalog_pb2.ListDatasetsRequest())
        return [_dataset_summary(d) for d in reply.datasets]

    def describe_dataset(self, name: str) -> types.DatasetDescription:
        """Schema and public metadata of a dataset."""
        reply = self._call(
            self._catalog.DescribeDataset, catalog_pb2.DescribeDatasetRequest(name=name)
        )
        return types.DatasetDescription(
            summary=_dataset_summary(reply.summary),
            entity_key=reply.entity_key,
            columns=tuple(_column(c) for c in reply.columns),
            products=tuple(reply.products),
        )

    def list_products(self, dataset: str = "") -> list[types.ProductSummary]:
        """Products granted to the caller, optionally only those over ``dataset``."""
        reply = self._call(
            self._catalog.ListProducts, catalog_pb2.ListProductsRequest(dataset=dataset)
        )
        return [_product_summary(p) for p in reply.products]

    def describe_product(self, product_id: str) -> types.ProductDescription:
        """Approved parameters of a product and the caller's grant terms."""
        reply = self._call(
            self._catalog.DescribeProduct, catalog_pb2.DescribeProductRequest(id=product_id)
        )
        return types.ProductDescription(
            summary=_product_summary(reply.summary),
            columns=tuple(reply.columns),
            parameters=json_format.MessageToDict(reply.parameters),
            grant=_grant(reply.grant) if reply.HasField("grant") else None,
        )

    # --- statistics ------------------------------------------------------------------------

    def estimate_cost(
        self,
        product: str,
        measures: Sequence[statistics_pb2.Measure],
        *,
        epsilon: float,
        delta: float = 0.0,
        group_by: Sequence[str] = (),
        filters: Sequence[statistics_pb2.Filter] = (),
    ) -> stats.CostEstimate:
        """What a statistics query would spend (zone.client.stats builds measures); free."""
        query = stats.build_query(
            product, measures, epsilon=epsilon, delta=delta, group_by=group_by, filters=filters
        )
        return stats.estimate_from_proto(self._call(self._stats.EstimateCost, query))

    def query_statistics(
        self,
        product: str,
        measures: Sequence[statistics_pb2.Measure],
        *,
        epsilon: float,
        delta: float = 0.0,
        group_by: Sequence[str] = (),
        filters: Sequence[statistics_pb2.Filter] = (),
    ) -> stats.StatisticsRelease:
        """Run a DP statistics query; charges (epsilon, delta) to the caller's budget."""
        query = stats.build_query(
            product, measures, epsilon=epsilon, delta=delta, group_by=group_by, filters=filters
        )
        return stats.release_from_proto(self._call(self._stats.Query, query))

    # --- training jobs ---------------------------------------------------------------------

    def train(
        self,
        product: str,
        *,
        epsilon: float,
        delta: float,
        keep_in_zone: bool = False,
        features: Sequence[str] = (),
        **hyperparameters: float | int,
    ) -> jobs.JobHandle:
        """Submit a DP training job; the full epsilon is reserved now.

        ``hyperparameters``: epochs, batch_size, learning_rate, max_grad_norm, hidden_width,
        seed; unset ones take the product's defaults.
        """
        request = jobs_pb2.TrainingRequest(
            product=product,
            epsilon=epsilon,
            delta=delta,
            keep_in_zone=keep_in_zone,
            features=list(features),
            **hyperparameters,  # type: ignore[arg-type]
        )
        job = self._call(self._jobs.SubmitTraining, request)
        return jobs.JobHandle(self, jobs.status_from_proto(job))

    def get_job(self, job_id: str) -> jobs.JobStatus:
        """A job's status."""
        reply = self._call(self._jobs.GetJob, jobs_pb2.JobRef(job_id=job_id))
        return jobs.status_from_proto(reply)

    def watch_job(self, job_id: str) -> Iterator[jobs.JobStatus]:
        """Stream a job's status on every change until it ends (no overall timeout)."""
        stream = self._jobs.WatchJob(jobs_pb2.JobRef(job_id=job_id), metadata=self._metadata)
        try:
            for reply in stream:
                yield jobs.status_from_proto(reply)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            stream.cancel()  # type: ignore[no-untyped-call]

    def list_jobs(self, limit: int = 100) -> list[jobs.JobStatus]:
        """The caller's jobs, newest first (all jobs for admins)."""
        reply = self._call(self._jobs.ListJobs, jobs_pb2.ListJobsRequest(limit=limit))
        return [jobs.status_from_proto(j) for j in reply.jobs]

    def cancel_job(self, job_id: str) -> jobs.JobStatus:
        """Cancel a queued or running job."""
        reply = self._call(self._jobs.CancelJob, jobs_pb2.JobRef(job_id=job_id))
        return jobs.status_from_proto(reply)

    def get_result(self, job_id: str) -> jobs.TrainingResult:
        """The result of a succeeded job."""
        reply = self._call(self._jobs.GetResult, jobs_pb2.JobRef(job_id=job_id))
        return jobs.result_from_proto(reply)

    # --- receipts --------------------------------------------------------------------------

    def get_receipt(self, release_id: str) -> receipts.ReceiptBundle:
        """The receipt of one of the caller's releases (any release for admins).

        With its audit entry and, once a checkpoint covers it, its inclusion proof and that
        checkpoint: verify it offline with ``zone.client.receipts.verify_bundle`` or
        ``zone receipt verify``. Another principal's release answers NotFoundError.
        """
        request = receipts_pb2.GetReceiptRequest(release_id=release_id)
        return receipts.bundle_from_proto(self._call(self._receipts.GetReceipt, request))

    # --- verification (homomorphic encryption; keys never leave this process) -------------

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
        keys: he.HEKeys,
        subjects: Sequence[str],
        claims: Mapping[str, Sequence[float]],
        *,
        purpose: str,
        in_flight: int = 2,
    ) -> he_results.MatchReport:
        """Check claimed values (one list per claim column, one value per subject), encrypted.

        Returns per subject MATCH (every claim checked matches), NO_MATCH or NOT_FOUND. A long
        list is sent in several calls, up to ``in_flight`` at a time.
        """
        requests = verification_requests.match_requests(
            product, keys, subjects, claims, purpose, self._parameters(product)
        )
        reports = verification_requests.pipelined(
            requests,
            lambda request: self._start(self._verification.Match, request),
            lambda part, reply: he_results.match_report(keys, part, reply),
            in_flight,
        )
        return he_results.MatchReport.join(reports)

    def score_batch(
        self,
        product: str,
        keys: he.HEKeys,
        subjects: Sequence[str],
        features: Mapping[str, Sequence[float]],
        *,
        purpose: str,
        model_id: str = "",
        in_flight: int = 2,
    ) -> he_results.ScoreReport:
        """Score subjects with the caller's features (encrypted) and the zone's own.

        A long list is sent in several calls, up to ``in_flight`` at a time.
        """
        requests = verification_requests.score_requests(
            product, keys, subjects, features, purpose, self._parameters(product), model_id
        )
        reports = verification_requests.pipelined(
            requests,
            lambda request: self._start(self._verification.Score, request),
            lambda part, reply: he_results.score_report(keys, part, reply),
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
    ) -> float:
        """One subject's score (probability for a logit model), or NaN when it has none."""
        batch = {name: [value] for name, value in features.items()}
        report = self.score_batch(
            product, keys, [subject], batch, purpose=purpose, model_id=model_id
        )
        return float(report.values[0])

    def _start(self, method: Any, request: Any) -> Callable[[], Any]:
        """Start a unary call; the returned function waits for its reply (typed errors)."""
        future = method.future(request, metadata=self._metadata, timeout=self._timeout)

        def wait() -> Any:
            try:
                return future.result()
            except grpc.RpcError as exc:
                raise from_rpc_error(exc) from None

        return wait

    def _parameters(self, product: str) -> dict[str, Any]:
        """A product's public parameters, asked once per client (they change with a restart)."""
        if product not in self._product_parameters:
            self._product_parameters[product] = self.describe_product(product).parameters
        return self._product_parameters[product]


def _dataset_summary(d: catalog_pb2.DatasetSummary) -> types.DatasetSummary:
    return types.DatasetSummary(
        d.name, d.description, d.provider, d.version, d.approx_row_count, d.row_count_granularity
    )


def _column(c: catalog_pb2.ColumnInfo) -> types.Column:
    return types.Column(
        name=c.name,
        type=c.type,
        classification=common_pb2.Classification.Name(c.classification),
        description=c.description,
        bounds=(c.bounds.low, c.bounds.high) if c.HasField("bounds") else None,
        domain=tuple(c.domain),
    )


def _product_summary(p: catalog_pb2.ProductSummary) -> types.ProductSummary:
    return types.ProductSummary(p.id, p.kind, p.dataset, p.description)


def _grant(g: catalog_pb2.GrantTerms) -> types.GrantTerms:
    return types.GrantTerms(
        budget={k: (v.epsilon, v.delta) for k, v in g.budget.items()},
        per_job_epsilon=g.per_job_epsilon,
        calls_per_day=g.calls_per_day,
        price_per_call=g.price.per_call,
        currency=g.price.currency,
        purpose=g.purpose,
        valid_from=g.valid_from,
        valid_until=g.valid_until,
    )
