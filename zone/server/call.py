"""Per-call context: who is calling and what the call is about, for servicers and the audit.

The interceptor sets it at the start of a call (in the handler thread); servicers read the
principal and the policy snapshot from it and may name the product the call concerns. The
call's serving snapshot (datasets, products, policies) is pinned until the call ends.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from zone.policy import PolicySet, Principal
from zone.server.wiring import ZoneServices
from zone.serving import Snapshot


@dataclass
class CallContext:
    """Mutable per-call record; ``product`` and ``reason`` are filled in as the call proceeds."""

    request_id: str
    method: str
    peer: str
    services: ZoneServices
    snapshot: Snapshot
    policies: PolicySet
    principal: Principal | None = None
    product: str = ""
    reason: str = ""
    started: float = field(default_factory=time.monotonic)

    def require_principal(self) -> Principal:
        """The authenticated principal (authenticated methods always have one)."""
        if self.principal is None:  # pragma: no cover - the interceptor guarantees it
            raise RuntimeError("call has no authenticated principal")
        return self.principal


_CURRENT: ContextVar[CallContext] = ContextVar("zone_call")


def current_call() -> CallContext:
    """The context of the call being handled in this thread."""
    return _CURRENT.get()


def set_current_call(call: CallContext) -> None:
    """Install ``call`` as the current call (interceptor only)."""
    _CURRENT.set(call)
