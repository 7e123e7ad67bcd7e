"""The one gate every call passes: method table, authentication, role check, decoding, audit.

For each non-public method the interceptor replaces grpcio's handler with a guarded one that
1. gives the call a request id (returned to the caller as ``x-request-id`` trailing metadata,
   with the zone's instance id as ``x-zone-instance``),
2. refuses, before any work, a call whose deadline passed or that waited too long for a thread,
   and bounds streaming calls (``zone.server.admission``),
3. refuses methods missing from the method table (deny by default),
4. authenticates the caller (bearer token, else the mTLS client certificate's common name),
5. checks the caller's role against the table,
6. decodes the request itself, so undecodable bytes become INVALID_ARGUMENT rather than
   grpcio's own INTERNAL,
7. translates domain errors through the error catalog (unknown exceptions become INTERNAL with
   the request id only; a call the client or the server cancelled is recorded as CANCELLED or
   DEADLINE_EXCEEDED, not INTERNAL), and
8. appends one audit record per call. If the audit record cannot be written the call fails
   closed: no response leaves without its record.

Public methods (health, reflection) get ``zone.server.public.guard_public``: the instance id,
decoding and stream bounds only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError

from zone.clock import today_utc
from zone.config import Limits
from zone.errors import (
    ErrorCode,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    ZoneError,
)
from zone.policy import Principal
from zone.server.admission import Admission, StreamEnded
from zone.server.call import CallContext, set_current_call
from zone.server.errors import STATUS_OF, abort, ended_status, internal_status, status_for
from zone.server.ids import RequestIds
from zone.server.methods import METHOD_TABLE, MethodRule
from zone.server.public import InitialMetadata, guard_public
from zone.server.wiring import ZoneServices
from zone.wire.metadata import INSTANCE_HEADER

log = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str | bytes]]
_DENIALS = {ErrorCode.UNAUTHENTICATED, ErrorCode.PERMISSION_DENIED}
_NOT_READY = Unavailable("zone is starting; retry shortly", reason="not_ready")


class _Outcome:
    """What happened to a call, for the audit record."""

    def __init__(self) -> None:
        self.status: grpc.StatusCode = grpc.StatusCode.OK
        self.reason = "ok"
        self.decision = "deny"
        self.abort_with: grpc.Status | None = None

    def failed(self, call: CallContext, exc: BaseException, context: grpc.ServicerContext) -> None:
        if isinstance(exc, StreamEnded):
            # The request stream ended with its call (client cancel, deadline, or the
            # server's stream limit): nobody waits for a reply.
            expired = context.time_remaining() <= 0
            self.status = (
                grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
            )
            self.reason = "deadline" if expired else "cancelled"
            self.abort_with = ended_status(self.status)
        elif isinstance(exc, ZoneError):
            self.status, self.reason = STATUS_OF[exc.code], exc.reason
            self.abort_with = status_for(exc)
            if exc.code in _DENIALS:
                self.decision = "deny"
            log.info("%s %s -> %s (%s)", call.request_id, call.method, exc.code.name, exc.reason)
        else:
            self.status, self.reason = grpc.StatusCode.INTERNAL, "internal"
            self.abort_with = internal_status(call.request_id)
            log.exception("%s %s -> INTERNAL", call.request_id, call.method)


_MALFORMED = "malformed authorization metadata: send one entry 'authorization: Bearer <token>'"


def bearer_token(metadata: Metadata) -> str | None:
    """The token of an ``authorization: Bearer <token>`` entry, None when there is none.

    Raises:
        Unauthenticated: the entry is present but malformed, or given more than once.
    """
    values = [v for k, v in metadata if k.lower() == "authorization"]
    if not values:
        return None
    if len(values) > 1 or not isinstance(values[0], str):
        raise Unauthenticated(_MALFORMED, reason="bad_metadata")
    scheme, _, token = values[0].strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(_MALFORMED, reason="bad_metadata")
    return token.strip()


if TYPE_CHECKING:  # grpc-stubs makes these generic; grpcio's runtime classes are not
    Handler = grpc.RpcMethodHandler[Any, Any]
    _Interceptor = grpc.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    _Interceptor = grpc.ServerInterceptor


class ZoneInterceptor(_Interceptor):
    """Authenticates, authorizes, decodes, translates errors and audits every guarded call."""

    def __init__(
        self,
        table: Mapping[str, MethodRule] = METHOD_TABLE,
        limits: Limits | None = None,
        instance_id: str = "",
    ) -> None:
        self._services: ZoneServices | None = None
        self._table = table
        self._admission = Admission(limits or Limits())
        self._instance: InitialMetadata = ((INSTANCE_HEADER, instance_id),) if instance_id else ()
        self._ids = RequestIds()

    def attach(self, services: ZoneServices) -> None:
        """Start admitting calls: datasets, products and policies are loaded."""
        self._services = services

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """Wrap the handler of every method (runs on grpcio's polling thread, at arrival)."""
        arrived = time.monotonic()
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        rule = self._table.get(method)
        if rule is not None and rule.public:
            return guard_public(handler, self._admission, self._instance)
        return self._guarded(method, rule, handler, arrived)

    def _guarded(
        self, method: str, rule: MethodRule | None, handler: Handler, arrived: float
    ) -> Handler:
        deserialize: Callable[[bytes], Any] = handler.request_deserializer or (lambda raw: raw)
        serialize = handler.response_serializer

        def decode(raw: bytes) -> Any:
            try:
                return deserialize(raw)
            except (DecodeError, ValueError, TypeError) as exc:
                raise InvalidArgument("request does not decode", reason="bad_request") from exc

        def decode_stream(raws: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                for raw in raws:
                    yield decode(raw)
            except grpc.RpcError:
                if context.is_active():
                    raise
                raise StreamEnded("the request stream ended with its call") from None
            self._admission.check_stream_end(context)

        if handler.unary_unary:
            inner = handler.unary_unary
            return grpc.unary_unary_rpc_method_handler(
                lambda raw, ctx: self._unary(
                    method, rule, ctx, arrived, lambda: inner(decode(raw), ctx)
                ),
                response_serializer=serialize,
            )
        if handler.stream_unary:
            inner_su = handler.stream_unary
            return grpc.stream_unary_rpc_method_handler(
                lambda raws, ctx: self._unary(
                    method,
                    rule,
                    ctx,
                    arrived,
                    lambda: inner_su(decode_stream(raws, ctx), ctx),
                    True,
                ),
                response_serializer=serialize,
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream
            return grpc.unary_stream_rpc_method_handler(
                lambda raw, ctx: self._streaming(
                    method, rule, ctx, arrived, lambda: inner_us(decode(raw), ctx)
                ),
                response_serializer=serialize,
            )
        inner_ss = handler.stream_stream
        if inner_ss is None:  # pragma: no cover - grpcio handlers always have one behaviour
            raise ValueError(f"handler for {method} has no behaviour")
        return grpc.stream_stream_rpc_method_handler(
            lambda raws, ctx: self._streaming(
                method, rule, ctx, arrived, lambda: inner_ss(decode_stream(raws, ctx), ctx), True
            ),
            response_serializer=serialize,
        )

    def _unary(
        self,
        method: str,
        rule: MethodRule | None,
        context: grpc.ServicerContext,
        arrived: float,
        run: Callable[[], Any],
        reads_stream: bool = False,
    ) -> Any:
        call, outcome = self._begin(method, context), _Outcome()
        response = None
        try:
            self._admit(call, rule, context, arrived)
            outcome.decision = "allow"
            if reads_stream:
                with self._admission.stream(context, public=False, reads_stream=True):
                    response = run()
            else:
                response = run()
        except Exception as exc:  # noqa: BLE001 - translated by the error catalog
            outcome.failed(call, exc, context)
        finally:
            call.services.serving.leave(call.snapshot)
        self._finish(call, outcome, context)
        return response

    def _streaming(
        self,
        method: str,
        rule: MethodRule | None,
        context: grpc.ServicerContext,
        arrived: float,
        run: Callable[[], Iterator[Any]],
        reads_stream: bool = False,
    ) -> Iterator[Any]:
        call, outcome = self._begin(method, context), _Outcome()
        try:
            self._admit(call, rule, context, arrived)
            outcome.decision = "allow"
            with self._admission.stream(context, public=False, reads_stream=reads_stream):
                yield from run()
        except GeneratorExit:
            outcome.status, outcome.reason = grpc.StatusCode.CANCELLED, "cancelled"
            call.services.serving.leave(call.snapshot)
            self._audit(call, outcome)
            raise
        except Exception as exc:  # noqa: BLE001 - translated by the error catalog
            outcome.failed(call, exc, context)
        call.services.serving.leave(call.snapshot)
        self._finish(call, outcome, context)

    def _begin(self, method: str, context: grpc.ServicerContext) -> CallContext:
        request_id = self._ids.next()
        context.set_trailing_metadata((("x-request-id", request_id), *self._instance))
        services = self._services
        if services is None:
            abort(context, status_for(_NOT_READY), request_id, self._instance)
        snapshot = services.serving.enter()  # pinned until the call ends (leave)
        call = CallContext(
            request_id=request_id,
            method=method,
            peer=context.peer(),
            services=services,
            snapshot=snapshot,
            policies=snapshot.policies,
        )
        set_current_call(call)
        return call

    def _admit(
        self,
        call: CallContext,
        rule: MethodRule | None,
        context: grpc.ServicerContext,
        arrived: float,
    ) -> None:
        self._admission.check_start(arrived, context)
        if rule is None:
            raise PermissionDenied("method not permitted", reason="method_not_in_table")
        call.principal = self._authenticate(call, context)
        suspensions = call.services.suspensions
        if suspensions.is_suspended(call.principal.id):
            if suspensions.has_exited(call.principal.id):
                raise PermissionDenied("this principal has exited", reason="principal_exited")
            raise PermissionDenied("this principal is suspended", reason="principal_suspended")
        if call.principal.role not in rule.roles:
            raise PermissionDenied("method not permitted for this role", reason="role_denied")

    def _authenticate(self, call: CallContext, context: grpc.ServicerContext) -> Principal:
        today = today_utc()
        token = bearer_token(context.invocation_metadata() or ())
        if token is not None:
            return call.policies.authenticate_token(token, today)
        # Present only with mTLS: the server then requires and verifies client certificates.
        names: Any = (context.auth_context() or {}).get("x509_common_name")
        if names:
            return call.policies.authenticate_certificate(
                names[0].decode("utf-8", "replace"), today
            )
        raise Unauthenticated(
            "missing credentials: send the call metadata entry 'authorization: Bearer <token>'",
            reason="no_credentials",
        )

    def _finish(self, call: CallContext, outcome: _Outcome, context: grpc.ServicerContext) -> None:
        try:
            self._audit(call, outcome)
        except Unavailable as exc:  # the state database is down: retry later, not a bug
            log.warning("%s audit append failed: %s", call.request_id, exc.message)
            outcome.abort_with = status_for(exc)
        except Exception:  # noqa: BLE001 - fail closed: no reply without its audit record
            log.exception("%s audit append failed", call.request_id)
            outcome.abort_with = internal_status(call.request_id)
        if outcome.abort_with is not None:
            abort(context, outcome.abort_with, call.request_id, self._instance)

    def _audit(self, call: CallContext, outcome: _Outcome) -> None:
        principal = call.principal
        call.services.audit.append_journaled(  # in the journal before the reply leaves
            "rpc",
            {
                "request_id": call.request_id,
                "principal": principal.id if principal else "",
                "role": principal.role if principal else "",
                "method": call.method,
                "product": call.product,
                "decision": outcome.decision,
                "reason": call.reason or outcome.reason,
                "status": outcome.status.name,
                "policy_digest": call.policies.digest,
                "peer": call.peer,
            },
        )
        elapsed = time.monotonic() - call.started
        call.services.call_metrics.observe(call.method, outcome.status.name, elapsed)
