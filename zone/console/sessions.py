"""Console login sessions: a random id in an HttpOnly cookie, a CSRF token, an expiry.

Sessions live in the console's memory only (a restart logs everyone out). A session names a
principal id, never its token; the principal is looked up in the policy set in force on every
request, so a reload that removes or expires it, or a suspension, ends its access at once.
Logging in always makes a new id (no session fixation). At most ``MAX_SESSIONS`` exist; the
oldest is dropped first.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "zone_console_session"
LOGIN_COOKIE = "zone_console_login"
MAX_SESSIONS = 10_000
LOGIN_FORM_SECONDS = 900


@dataclass(frozen=True)
class Session:
    """One logged-in principal: its CSRF token and when the session ends (monotonic seconds)."""

    session_id: str
    principal: str
    csrf: str
    expires: float


class Sessions:
    """The open sessions of one console (thread-safe)."""

    def __init__(self, lifetime_seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._open: OrderedDict[str, Session] = OrderedDict()

    @property
    def lifetime_seconds(self) -> float:
        """How long a session lasts after login."""
        return self._lifetime

    def create(self, principal: str) -> Session:
        """A new session for ``principal`` with fresh random id and CSRF token."""
        session = Session(
            secrets.token_urlsafe(32),
            principal,
            secrets.token_urlsafe(32),
            self._clock() + self._lifetime,
        )
        with self._lock:
            self._open[session.session_id] = session
            while len(self._open) > MAX_SESSIONS:
                self._open.popitem(last=False)
        return session

    def get(self, session_id: str) -> Session | None:
        """The open session with this id; None when unknown or expired (then dropped)."""
        if not session_id or len(session_id) > 100:
            return None
        with self._lock:
            session = self._open.get(session_id)
            if session is None:
                return None
            if session.expires <= self._clock():
                del self._open[session_id]
                return None
            return session

    def end(self, session_id: str) -> None:
        """Log the session out (nothing happens for an unknown id)."""
        with self._lock:
            self._open.pop(session_id, None)


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time comparison of a presented token with the expected one (both non-empty)."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode("utf-8"))


def new_login_nonce() -> str:
    """A random value for the login form's CSRF cookie and hidden field (double submit)."""
    return secrets.token_urlsafe(32)
