"""Health checking: wait for a zone to report SERVING, and ask which zone instance answers.

Every reply of a zone, health checks included, carries the id the zone drew when it started
(``x-zone-instance`` initial metadata; ``zone serve`` prints it). A client that started a zone
passes that id to :func:`wait_until_serving`, which then refuses another zone that happens to
listen at the same address.
"""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from zone.client.errors import FailedPreconditionError, UnavailableError
from zone.wire.metadata import INSTANCE_HEADER


def instance_of(call: grpc.Call) -> str:
    """The zone instance id a reply (or an error) carried; "" for a server that sends none.

    Health and reflection replies carry it as initial metadata, the zone's own methods with
    their trailing metadata (beside ``x-request-id``: sending initial metadata on its own costs
    every call a write of its own).
    """
    for metadata in (call.initial_metadata(), call.trailing_metadata()):
        for key, value in metadata or ():
            if key == INSTANCE_HEADER and isinstance(value, str):
                return value
    return ""


def check_instance(channel: grpc.Channel, timeout: float = 5.0) -> tuple[bool, str]:
    """One health check: whether the zone is SERVING, and its instance id.

    Raises:
        grpc.RpcError: the health check failed (unreachable, or not a zone).
    """
    stub = health_pb2_grpc.HealthStub(channel)
    reply, call = stub.Check.with_call(health_pb2.HealthCheckRequest(), timeout=timeout)
    return reply.status == health_pb2.HealthCheckResponse.SERVING, instance_of(call)


def wait_until_serving(
    target: str,
    *,
    timeout: float = 30.0,
    poll: float = 0.05,
    credentials: grpc.ChannelCredentials | None = None,
    instance: str | None = None,
) -> float:
    """Poll the health service until it reports SERVING; return the seconds waited.

    Health checking needs no token. With ``instance``, the zone answering must be that instance
    (the id ``zone serve`` printed): anything else listening at ``target`` is refused at once.

    Raises:
        UnavailableError: the zone did not become SERVING within ``timeout`` seconds
            (unreachable, or still loading).
        FailedPreconditionError: another zone instance (or another server) answers at ``target``.
    """
    start = time.monotonic()
    channel = (
        grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    )
    with channel:
        while time.monotonic() - start < timeout:
            try:
                serving, answered = check_instance(channel, timeout=1.0)
            except grpc.RpcError:
                serving, answered = False, None
            if instance is not None and answered is not None and answered != instance:
                raise FailedPreconditionError(
                    f"{target} is served by zone instance {answered or '(none)'}, not {instance}: "
                    "another program listens at this address"
                )
            if serving:
                return time.monotonic() - start
            time.sleep(poll)
    raise UnavailableError(f"zone at {target} did not become SERVING within {timeout:g} s")
