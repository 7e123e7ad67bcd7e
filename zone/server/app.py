"""Server wiring: grpc server, interceptor, services, health, reflection, TLS, signals.

``serve()`` is what ``zone serve`` runs: health reports NOT_SERVING until datasets, products and
policies are loaded, then SERVING; SIGTERM/SIGINT stop gracefully (in-flight calls get the
configured grace period); SIGHUP reloads policies, products and the active dataset versions
(a bad set is refused, the running set stays).

Every start gets an instance id, printed by ``zone serve`` and sent as ``x-zone-instance``
initial metadata on every reply (health checks included), so that a client can tell the zone
it started from another one that holds the address it dialled (``zone.client.health``).
"""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from zone._proto import (
    admin_pb2,
    admin_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    cohorts_pb2,
    cohorts_pb2_grpc,
    consent_pb2,
    consent_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    receipts_pb2,
    receipts_pb2_grpc,
    statistics_pb2,
    statistics_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from zone.config import Limits, TlsConfig, ZoneConfig
from zone.console.server import RunningConsole, start_console
from zone.errors import FailedPrecondition, ValidationFailed
from zone.server.interceptor import ZoneInterceptor
from zone.server.listen import ListenRefused, bind_failure, check_free, check_transport
from zone.server.reflection import enable_reflection
from zone.server.servicers.admin import AdminServicer
from zone.server.servicers.catalog import CatalogServicer
from zone.server.servicers.cohorts import CohortServicer
from zone.server.servicers.consent import ConsentServicer
from zone.server.servicers.jobs import JobServicer
from zone.server.servicers.models import ModelServicer
from zone.server.servicers.receipts import ReceiptServicer
from zone.server.servicers.statistics import StatisticsServicer
from zone.server.servicers.verification import VerificationServicer
from zone.server.wiring import ZoneServices, build, console_deps

log = logging.getLogger(__name__)

SERVICE_NAMES: tuple[str, ...] = (
    catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
    statistics_pb2.DESCRIPTOR.services_by_name["StatisticsService"].full_name,
    jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
    verification_pb2.DESCRIPTOR.services_by_name["VerificationService"].full_name,
    receipts_pb2.DESCRIPTOR.services_by_name["ReceiptService"].full_name,
    models_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    consent_pb2.DESCRIPTOR.services_by_name["ConsentService"].full_name,
    cohorts_pb2.DESCRIPTOR.services_by_name["CohortService"].full_name,
)

_STATUS = {  # whether the replica holds its place in a shared state (zone.server.replica)
    True: health_pb2.HealthCheckResponse.SERVING,
    False: health_pb2.HealthCheckResponse.NOT_SERVING,
}


@dataclass
class RunningZone:
    """A started server and what it serves."""

    server: grpc.Server
    services: ZoneServices
    health: health.HealthServicer
    port: int
    instance_id: str
    console: RunningConsole | None = None

    def stop(self, grace: float | None = None) -> None:
        """Stop accepting calls, let in-flight calls finish within ``grace``, close state."""
        self.services.rounds.on_change = None
        _set_health(self.health, health_pb2.HealthCheckResponse.NOT_SERVING)
        if self.console is not None:
            self.console.stop()
        self.server.stop(self.services.config.shutdown_grace_seconds if grace is None else grace)
        self.server.wait_for_termination()
        self.services.record_stop()
        self.services.close()


def _credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    key = tls.key_file.read_bytes()
    cert = tls.cert_file.read_bytes()
    client_ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def grpc_server(limits: Limits, *interceptors: ZoneInterceptor) -> grpc.Server:
    """The grpcio server the zone runs on: its thread pool, message limits and call limit.

    ``benchmarks/bench_rpc.py`` builds its bare-grpcio reference with this too (without
    interceptors), so that the two differ only by what the zone adds.
    """
    return grpc.server(
        futures.ThreadPoolExecutor(max_workers=limits.max_workers, thread_name_prefix="zone"),
        interceptors=list(interceptors),
        options=[
            ("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", limits.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=limits.max_concurrent_rpcs,
    )


def _set_health(servicer: health.HealthServicer, status: int) -> None:
    for name in ("", *SERVICE_NAMES):
        servicer.set(name, status)


def start(
    config: ZoneConfig,
    load: Callable[[ZoneConfig], ZoneServices] = build,
    *,
    insecure_plaintext: bool = False,
) -> RunningZone:
    """Bind and start (health NOT_SERVING), load everything with ``load``, then turn SERVING.

    Calls that arrive while loading get UNAVAILABLE. If loading fails the server is stopped and
    the error raised. Without TLS the zone listens only on loopback addresses, unless
    ``insecure_plaintext`` (``zone.server.listen``).

    Raises:
        ValidationFailed: datasets, products or policies are invalid.
        FailedPrecondition: the dataset database is missing or locked.
        ListenRefused: plaintext on a non-loopback address, or the address cannot be bound.
    """
    check_transport(config, insecure_plaintext=insecure_plaintext)
    check_free(config.listen)
    instance_id = uuid.uuid4().hex[:16]
    limits = config.limits
    # Blocking Watch (one handler thread per watcher, bounded by the public stream slots): the
    # non-blocking mode deadlocked grpcio's polling thread after ~200-1,800 Watch calls that
    # were opened and cancelled in a row (measured on a bare grpcio 1.85 server too).
    health_servicer = health.HealthServicer(experimental_non_blocking=False)
    _set_health(health_servicer, health_pb2.HealthCheckResponse.NOT_SERVING)
    interceptor = ZoneInterceptor(limits=limits, instance_id=instance_id)
    server = grpc_server(limits, interceptor)
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(), server)
    admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(), server)
    statistics_pb2_grpc.add_StatisticsServiceServicer_to_server(StatisticsServicer(), server)
    jobs_pb2_grpc.add_JobServiceServicer_to_server(JobServicer(), server)
    verification_pb2_grpc.add_VerificationServiceServicer_to_server(VerificationServicer(), server)
    receipts_pb2_grpc.add_ReceiptServiceServicer_to_server(ReceiptServicer(), server)
    models_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(), server)
    consent_pb2_grpc.add_ConsentServiceServicer_to_server(ConsentServicer(), server)
    cohorts_pb2_grpc.add_CohortServiceServicer_to_server(CohortServicer(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection((*SERVICE_NAMES, health.SERVICE_NAME), server)
    try:
        if config.tls is not None:
            port = server.add_secure_port(config.listen, _credentials(config.tls))
        else:
            port = server.add_insecure_port(config.listen)
    except RuntimeError:
        raise ListenRefused(bind_failure(config.listen, None)) from None
    server.start()
    try:
        services = load(config)
    except BaseException:
        server.stop(None)
        raise
    try:
        console = _start_console(services)
    except BaseException:
        server.stop(None)
        services.close()
        raise
    interceptor.attach(services)
    services.record_start(instance_id)
    _set_health(health_servicer, health_pb2.HealthCheckResponse.SERVING)
    services.rounds.on_change = lambda present: _set_health(health_servicer, _STATUS[present])
    log.info(
        "zone instance %s serving on %s:%d (policy set %s)",
        instance_id,
        config.listen.rpartition(":")[0],
        port,
        services.serving.current.digest,
    )
    return RunningZone(server, services, health_servicer, port, instance_id, console)


def _start_console(services: ZoneServices) -> RunningConsole | None:
    """The supervision console on its own port, when the config has a ``console`` section."""
    config = services.config
    if config.console is None:
        return None
    tls = config.tls
    return start_console(
        console_deps(services),
        cert_file=tls.cert_file if tls else None,
        key_file=tls.key_file if tls else None,
    )


def serve(config: ZoneConfig, *, insecure_plaintext: bool = False) -> None:
    """Run until SIGTERM or SIGINT; SIGHUP reloads the serving set (policies, products, datasets).

    Prints ``zone: serving on HOST:PORT`` once SERVING (the port bound, for ``--listen
    HOST:0``), then ``zone: instance ID`` (what every reply carries as ``x-zone-instance``).

    Raises:
        ListenRefused: see :func:`start`; nothing was started.
    """
    zone = start(config, insecure_plaintext=insecure_plaintext)
    stopping = threading.Event()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=_reload, args=(zone.services,), daemon=True).start()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    host = config.listen.rpartition(":")[0]
    print(f"zone: serving on {host}:{zone.port}\nzone: instance {zone.instance_id}", flush=True)
    if zone.console is not None and config.console is not None:
        host = config.console.listen.rpartition(":")[0]
        print(
            f"zone: console on http{'s' if config.tls else ''}://{host}:{zone.console.port}/",
            flush=True,
        )
    while not stopping.wait(0.5):
        pass
    log.info("stopping (grace %.1fs)", config.shutdown_grace_seconds)
    zone.stop()


def _reload(services: ZoneServices) -> None:
    try:
        result = services.reload_policies()
    except (ValidationFailed, FailedPrecondition) as exc:
        log.error("SIGHUP reload refused, running set kept:\n%s", exc.message)
        return
    log.info("SIGHUP reload: %s", result.digest)
