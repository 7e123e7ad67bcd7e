"""Server reflection in both protocol versions: ``grpc.reflection.v1`` and ``v1alpha``.

Clients in other languages (grpcurl >= 1.9, grpc-go's ``grpcreflect``, grpc-java, tonic,
Postman) ask ``grpc.reflection.v1.ServerReflection`` first, and some never fall back to
``v1alpha``, the only version grpcio-reflection 1.85 ships. The two protocols are field for
field the same (names, numbers, types; ``proto/grpc/reflection/v1/reflection.proto``), so one
v1alpha servicer answers both: the v1 method is a generic handler that decodes and encodes
with the v1alpha messages, which read and write the same bytes.

Importing ``zone._proto.reflection_v1_pb2`` puts the v1 file in the default descriptor pool,
so a client resolving ``grpc.reflection.v1.ServerReflection`` by symbol gets its descriptor.
Both methods are public in the method table (``zone.server.methods``) and get the same guards
(``zone.server.public``): decoding errors answer INVALID_ARGUMENT, streams are bounded.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from zone._proto import reflection_v1_pb2

V1_SERVICE_NAME: str = reflection_v1_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name
"""``grpc.reflection.v1.ServerReflection``."""
V1ALPHA_SERVICE_NAME: str = reflection.SERVICE_NAME
"""``grpc.reflection.v1alpha.ServerReflection``."""
SERVICE_NAMES: tuple[str, str] = (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)


def enable_reflection(service_names: Iterable[str], server: grpc.Server) -> None:
    """Serve reflection v1 and v1alpha on ``server``, listing ``service_names`` and both."""
    servicer = reflection.ReflectionServicer((*service_names, *SERVICE_NAMES))
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        tuple(
            grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler})
            for name in SERVICE_NAMES
        )
    )
