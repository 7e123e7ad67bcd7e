"""Server reflection in both protocol versions: ``grpc.reflection.v1`` and ``v1alpha``.

Clients in other languages (grpcurl >= 1.9, grpc-go's ``grpcreflect``, grpc-java, tonic,
Postman) ask ``grpc.reflection.v1.ServerReflection`` first, and some never fall back to
``v1alpha``, the only version grpcio-reflection 1.85 ships. The two protocols are field for
field the same (names, numbers, types; ``proto/grpc/reflection/v1/reflection.proto``), so one
v1alpha servicer answers both: the v1 method is a generic handler that decodes and encodes
with the v1alpha messages, which read and write the same bytes.

Importing ``zone._proto.reflection_v1_pb2`` puts the v1 file in the default descriptor pool,
so a client resolving ``grpc.reflection.v1.ServerReflection`` by symbol gets its descriptor.
Symbols are looked up in the default pool, through :class:`MethodSymbols`, which also resolves
a method's full name (``zone.v1.CatalogService.ListDatasets``), as the protocol allows and
grpc-go and grpc-java servers do; protobuf's pool alone finds services, messages and enums.

Both methods are public in the method table (``zone.server.methods``) and get the same guards
(``zone.server.public``): decoding errors answer INVALID_ARGUMENT, streams are bounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

from zone._proto import reflection_v1_pb2

V1_SERVICE_NAME: str = reflection_v1_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name
"""``grpc.reflection.v1.ServerReflection``."""
V1ALPHA_SERVICE_NAME: str = reflection.SERVICE_NAME
"""``grpc.reflection.v1alpha.ServerReflection``."""
SERVICE_NAMES: tuple[str, str] = (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)


class MethodSymbols:
    """A descriptor pool whose symbol lookup also finds ``package.Service.Method``."""

    def __init__(self, pool: descriptor_pool.DescriptorPool) -> None:
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    def FindFileContainingSymbol(self, symbol: str) -> Any:  # noqa: N802 - the pool's name
        """The file declaring ``symbol``; a method's is its service's.

        Raises:
            KeyError: no such symbol (the servicer answers NOT_FOUND).
        """
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            service, _, method = symbol.rpartition(".")
            try:
                found = self._pool.FindServiceByName(service)
            except KeyError:
                raise KeyError(symbol) from None
            if method not in found.methods_by_name:
                raise KeyError(symbol) from None
            return found.file


def enable_reflection(service_names: Iterable[str], server: grpc.Server) -> None:
    """Serve reflection v1 and v1alpha on ``server``, listing ``service_names`` and both."""
    servicer = reflection.ReflectionServicer(
        (*service_names, *SERVICE_NAMES), pool=MethodSymbols(descriptor_pool.Default())
    )
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
