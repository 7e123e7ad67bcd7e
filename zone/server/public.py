"""Public methods (health checking, reflection): decoding and stream bounds, nothing else.

Public methods need no credentials and are not audited (``zone.server.methods``). Their
replies carry the zone's instance id (``x-zone-instance`` initial metadata) like every other
reply, so that a client can check, with a health check, which zone answers. Their handlers still
get two guards:

- requests are decoded here, so bytes that do not decode are answered INVALID_ARGUMENT rather
  than grpcio's INTERNAL ("Exception deserializing request!");
- a handler that holds a thread while its stream is open takes a public stream slot and, when
  it reads a request stream, is cancelled after ``max_stream_seconds``
  (``zone.server.admission``). Without this, a few unauthenticated reflection streams that
  send nothing held every handler thread: a unary call then waited until its deadline.

Handlers run in grpcio's ordinary (blocking) mode: the wrapper does not pass grpcio's
experimental non-blocking callback on, so health ``Watch`` holds a thread (in a public stream
slot) while a watcher waits. Its non-blocking mode deadlocked the server (``zone.server.app``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError

from zone.errors import Unavailable
from zone.server.admission import Admission, StreamEnded
from zone.server.errors import ended_status, status_for

if TYPE_CHECKING:  # grpc-stubs makes this generic; grpcio's runtime class is not
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler

InitialMetadata = tuple[tuple[str, str | bytes], ...]


def guard_public(handler: Handler, admission: Admission, initial: InitialMetadata = ()) -> Handler:
    """``handler`` sending ``initial`` metadata, with requests decoded and streams bounded."""
    deserialize: Callable[[bytes], Any] = handler.request_deserializer or (lambda raw: raw)
    serialize = handler.response_serializer

    def decode(raw: bytes, context: grpc.ServicerContext) -> Any:
        if initial:
            context.send_initial_metadata(initial)
        return _decode(deserialize, raw, context)

    def decode_stream(raws: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[Any]:
        if initial:
            context.send_initial_metadata(initial)
        for raw in raws:
            yield _decode(deserialize, raw, context)
        admission.check_stream_end(context)

    if handler.unary_unary:
        inner = handler.unary_unary
        return grpc.unary_unary_rpc_method_handler(
            lambda raw, ctx: inner(decode(raw, ctx), ctx), response_serializer=serialize
        )
    if handler.unary_stream:
        inner_us = handler.unary_stream
        return grpc.unary_stream_rpc_method_handler(
            lambda raw, ctx: _bounded(
                admission, ctx, False, lambda: inner_us(decode(raw, ctx), ctx)
            ),
            response_serializer=serialize,
        )
    if handler.stream_unary:
        inner_su = handler.stream_unary
        return grpc.stream_unary_rpc_method_handler(
            lambda raws, ctx: _upload(
                admission, ctx, lambda: inner_su(decode_stream(raws, ctx), ctx)
            ),
            response_serializer=serialize,
        )
    inner_ss = handler.stream_stream
    if inner_ss is None:  # pragma: no cover - grpcio handlers always have one behaviour
        raise ValueError("public handler has no behaviour")
    return grpc.stream_stream_rpc_method_handler(
        lambda raws, ctx: _bounded(
            admission, ctx, True, lambda: inner_ss(decode_stream(raws, ctx), ctx)
        ),
        response_serializer=serialize,
    )


def _decode(deserialize: Callable[[bytes], Any], raw: bytes, context: grpc.ServicerContext) -> Any:
    try:
        return deserialize(raw)
    except (DecodeError, ValueError, TypeError):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request does not decode")


@contextmanager
def _public_slot(
    admission: Admission, context: grpc.ServicerContext, reads_stream: bool
) -> Iterator[None]:
    """A public stream slot; swallows the error of reading a stream whose call has ended."""
    try:
        with admission.stream(context, public=True, reads_stream=reads_stream):
            yield
    except Unavailable as exc:
        context.abort_with_status(status_for(exc))
    except grpc.RpcError:
        if context.is_active():
            raise
        # The call ended (client left, deadline, or the server's stream limit): nobody listens.
    except StreamEnded:
        pass  # likewise, detected at the end of the request stream


def _bounded(
    admission: Admission,
    context: grpc.ServicerContext,
    reads_stream: bool,
    run: Callable[[], Iterator[Any]],
) -> Iterator[Any]:
    with _public_slot(admission, context, reads_stream):
        yield from run()


def _upload(admission: Admission, context: grpc.ServicerContext, run: Callable[[], Any]) -> Any:
    with _public_slot(admission, context, True):
        return run()
    context.abort_with_status(ended_status(grpc.StatusCode.CANCELLED))  # the call had ended
