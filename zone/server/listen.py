"""Where the zone may listen: loopback or TLS, and an address no other program holds.

Bearer tokens travel in call metadata. Without TLS they cross the network in clear, so a
plaintext zone listens only on loopback unless its operator says ``--insecure-plaintext``
(for a TLS-terminating proxy on the same host, say), and then a warning is logged at every start.

grpcio reports a taken port as a bare "Failed to bind" RuntimeError after printing its own
log line, so the address is probed first (with ``SO_REUSEADDR``, as grpcio binds) and refused
with one clear message. The probe can race with another program binding in between: grpcio's
own failure then gives the same message.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket

from zone.config import ZoneConfig
from zone.errors import FailedPrecondition

log = logging.getLogger(__name__)


class ListenRefused(FailedPrecondition):
    """The zone will not, or cannot, listen on the configured address."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="listen_refused")


def split_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[V6]:PORT``) as host and port."""
    host, _, port = listen.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (unresolvable: no)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check_transport(config: ZoneConfig, *, insecure_plaintext: bool) -> None:
    """Refuse plaintext on a non-loopback address unless explicitly allowed; warn when allowed.

    Raises:
        ListenRefused: no TLS, a non-loopback address, and no ``insecure_plaintext``.
    """
    host, _ = split_listen(config.listen)
    if config.tls is not None or is_loopback(host):
        return
    if not insecure_plaintext:
        raise ListenRefused(
            f"refusing to listen on {config.listen} without TLS: bearer tokens would cross the "
            "network in clear. Configure tls: in the zone config, listen on 127.0.0.1, or pass "
            "--insecure-plaintext if something else encrypts the traffic"
        )
    log.warning(
        "serving on %s WITHOUT TLS (--insecure-plaintext): bearer tokens and replies cross the "
        "network in clear",
        config.listen,
    )


def check_free(listen: str) -> None:
    """Refuse an address another program holds (port 0, "any free port", is always free).

    Raises:
        ListenRefused: the address is taken, cannot be resolved or cannot be bound.
    """
    host, port = split_listen(listen)
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        raise ListenRefused(f"cannot listen on {listen}: cannot resolve {host!r}") from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise ListenRefused(bind_failure(listen, exc.errno)) from None


def bind_failure(listen: str, code: int | None) -> str:
    """The one-line message for an address that cannot be bound (``code``: errno, if known)."""
    if code == errno.EADDRINUSE:
        reason = "the address is already in use (another program, perhaps another zone)"
    elif code is None:
        reason = "the address cannot be bound (in use, or not an address of this host)"
    else:
        reason = os.strerror(code)
    return f"cannot listen on {listen}: {reason}; stop that program or choose --listen HOST:PORT"
