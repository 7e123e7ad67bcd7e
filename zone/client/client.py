"""The Python SDK: ``ZoneClient(target, token=...)`` with typed results and typed errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format

import zone.client.catalog_convert as catalog_convert
import zone.client.he as he
import zone.client.health as health
import zone.client.jobs as jobs
import zone.client.receipts as receipts
import zone.client.stats as stats
import zone.client.types as types
from zone._proto import (
    admin_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    cohorts_pb2_grpc,
    consent_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    models_pb2_grpc,
    receipts_pb2,
    receipts_pb2_grpc,
    statistics_pb2,
    statistics_pb2_grpc,
    verification_pb2_grpc,
)
from zone.client.admin_calls import AdminCalls
from zone.client.cohorts import CohortCalls
from zone.client.consent_calls import ConsentCalls
from zone.client.errors import from_rpc_error
from zone.client.verification_calls import VerificationCalls

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


class ZoneClient(AdminCalls, ConsentCalls, VerificationCalls, CohortCalls):
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
        self._consent = consent_pb2_grpc.ConsentServiceStub(self._channel)
        self._cohorts = cohorts_pb2_grpc.CohortServiceStub(self._channel)
        self.he = he.HE()
        """Homomorphic-encryption keys for Score: ``client.he.new_keys("ckks-8192")``."""
        self._product_parameters: dict[str, dict[str, Any]] = {}
        # Pipelined verification calls wait on these (threads start on first use, then stay).
        self._call_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="zone-call")

    def instance_id(self) -> str:
        """The id of the zone instance answering (``zone serve`` prints it at every start).

        A client that started a zone compares it with the printed id to be sure it talks to
        that zone, not to another one listening at the same address.

        Raises:
            UnavailableError: the zone cannot be reached.
        """
        try:
            return health.check_instance(self._channel, timeout=self._timeout)[1]
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def close(self) -> None:
        """Close the channel (and the threads of pipelined calls)."""
        self._call_threads.shutdown(wait=False)
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
        return [catalog_convert.dataset_summary(d) for d in reply.datasets]

    def describe_dataset(self, name: str) -> types.DatasetDescription:
        """Schema and public metadata of a dataset."""
        reply = self._call(
            self._catalog.DescribeDataset, catalog_pb2.DescribeDatasetRequest(name=name)
        )
        return types.DatasetDescription(
            summary=catalog_convert.dataset_summary(reply.summary),
            entity_key=reply.entity_key,
            columns=tuple(catalog_convert.column(c) for c in reply.columns),
            products=tuple(reply.products),
            quality_report_json=reply.quality_report_json,
            open_data=types.OpenData.of(reply.open_data) if reply.HasField("open_data") else None,
        )

    def list_products(self, dataset: str = "") -> list[types.ProductSummary]:
        """Products granted to the caller, optionally only those over ``dataset``."""
        reply = self._call(
            self._catalog.ListProducts, catalog_pb2.ListProductsRequest(dataset=dataset)
        )
        return [catalog_convert.product_summary(p) for p in reply.products]

    def describe_product(self, product_id: str) -> types.ProductDescription:
        """Approved parameters of a product and the caller's grant terms."""
        reply = self._call(
            self._catalog.DescribeProduct, catalog_pb2.DescribeProductRequest(id=product_id)
        )
        return types.ProductDescription(
            summary=catalog_convert.product_summary(reply.summary),
            columns=tuple(reply.columns),
            parameters=json_format.MessageToDict(reply.parameters),
            grant=catalog_convert.grant(reply.grant) if reply.HasField("grant") else None,
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
