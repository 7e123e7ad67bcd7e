"""Waiting for a zone to report SERVING through standard gRPC health checking."""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from zone.client.errors import UnavailableError


def wait_until_serving(
    target: str,
    *,
    timeout: float = 30.0,
    poll: float = 0.05,
    credentials: grpc.ChannelCredentials | None = None,
) -> float:
    """Poll the health service until it reports SERVING; return the seconds waited.

    Health checking needs no token. Raises UnavailableError if the zone does not become SERVING
    within ``timeout`` seconds (unreachable, or still loading).
    """
    start = time.monotonic()
    channel = (
        grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() - start < timeout:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return time.monotonic() - start
            except grpc.RpcError:
                pass
            time.sleep(poll)
    raise UnavailableError(f"zone at {target} did not become SERVING within {timeout:g} s")
