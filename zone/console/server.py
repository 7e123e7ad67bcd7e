"""The console's server: uvicorn on its own port, in threads of the zone process.

:func:`start_console` binds the socket in the caller's thread (so a taken port fails the zone's
start-up at once, like the gRPC port), then serves the ASGI app in one thread and evaluates
the alert rules on the configured interval in another. TLS uses the zone's own certificate and
key when the config has a ``tls`` section. :meth:`RunningConsole.stop` ends both threads.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from zone.console.deps import ConsoleDeps
from zone.console.routes import build_app
from zone.errors import FailedPrecondition

log = logging.getLogger(__name__)


@dataclass
class RunningConsole:
    """A started console: its port and the threads serving it."""

    port: int
    server: uvicorn.Server
    thread: threading.Thread
    alerts_thread: threading.Thread
    stopping: threading.Event

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and evaluating alerts; wait for both threads."""
        self.stopping.set()
        self.server.should_exit = True
        self.thread.join(timeout)
        self.alerts_thread.join(timeout)


def _bind(listen: str) -> socket.socket:
    """A socket bound to ``listen`` and listening (so a taken port is refused here, not later).

    Raises:
        FailedPrecondition: the address is in use or not one of this host's (``listen_refused``).
    """
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        # With SO_REUSEADDR two sockets may bind one port until one listens: listen now, or
        # a second zone's console (two replicas on one machine) failed inside uvicorn.
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = (
            "the address is already in use (another program, perhaps another zone's console)"
            if exc.errno == errno.EADDRINUSE
            else (exc.strerror or "the address cannot be bound")
        )
        raise FailedPrecondition(
            f"cannot listen on {listen} (console.listen): {reason}; stop that program or set "
            "another console.listen in the config",
            reason="listen_refused",
        ) from None
    return sock


def _keep_evaluations(deps: ConsoleDeps) -> None:
    """Bring this month's operator reports up to date, so the operators page counts little."""
    month = datetime.now(UTC).strftime("%Y-%m")
    for principal in sorted(deps.policies().principals.values(), key=lambda p: p.id):
        if principal.role in ("operator", "researcher"):
            deps.evaluations.report(principal.id, month)


def _alert_loop(deps: ConsoleDeps, stopping: threading.Event) -> None:
    interval = deps.config.alerts.interval_seconds
    try:
        _keep_evaluations(deps)
    except Exception:  # noqa: BLE001 - the page counts from scratch instead
        log.exception("operator evaluations failed")
    while not stopping.wait(interval):
        try:
            raised = deps.alerts.evaluate()
            _keep_evaluations(deps)
        except Exception:  # noqa: BLE001 - keep evaluating; the next run may succeed
            log.exception("alert evaluation failed")
            continue
        for alert in raised:
            log.warning("alert %s: %s %s", alert.alert_id, alert.rule, alert.principal or "-")


def start_console(
    deps: ConsoleDeps, *, cert_file: Path | None = None, key_file: Path | None = None
) -> RunningConsole:
    """Bind ``deps.config.listen`` and serve the console until ``stop()``.

    Raises:
        FailedPrecondition: the address cannot be bound (``listen_refused``).
        RuntimeError: uvicorn did not start within 10 seconds.
    """
    sock = _bind(deps.config.listen)
    config = uvicorn.Config(
        build_app(deps),
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=5,
        limit_concurrency=64,
        ssl_certfile=str(cert_file) if cert_file else None,
        ssl_keyfile=str(key_file) if key_file else None,
    )
    server = uvicorn.Server(config)
    stopping = threading.Event()
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="zone-console", daemon=True
    )
    alerts_thread = threading.Thread(
        target=_alert_loop, args=(deps, stopping), name="zone-alerts", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        raise RuntimeError(f"the console did not start on {deps.config.listen}")
    alerts_thread.start()
    port = int(sock.getsockname()[1])
    log.info("console serving on %s:%d", sock.getsockname()[0], port)
    return RunningConsole(port, server, thread, alerts_thread, stopping)
