"""What every ``zone`` command that calls a running zone shares: where, how and with which token.

A zone with a ``tls`` section (every zone that listens beyond loopback) is reached with
``--ca-file`` (or ``$ZONE_CA_FILE``): the PEM CA that signed the zone's certificate. A zone
with ``tls.client_ca`` also needs ``--cert-file`` and ``--key-file`` (the caller's certificate,
whose common name may identify it instead of a token). Without a CA the channel is plaintext,
which only a loopback zone without ``tls`` accepts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from zone.client import TlsOptions, ZoneClient
from zone.errors import InvalidArgument

DEFAULT_TARGET = "127.0.0.1:50051"
CA_ENV = "ZONE_CA_FILE"


def add_connection(parser: argparse.ArgumentParser, *, admin: bool = False) -> None:
    """Add ``--target``, ``--token-file`` and the TLS options (read by :func:`connect`)."""
    parser.add_argument("--target", default=DEFAULT_TARGET, help="the zone's HOST:PORT")
    who = "admin token file" if admin else "token file"
    parser.add_argument("--token-file", help=f"{who} (default: the token in $ZONE_TOKEN)")
    parser.add_argument(
        "--ca-file",
        help=f"PEM CA that signed the zone's TLS certificate: connect with TLS (default: "
        f"${CA_ENV}; neither: plaintext, which only a loopback zone without tls accepts)",
    )
    parser.add_argument("--cert-file", help="PEM client certificate, for a zone with mTLS")
    parser.add_argument("--key-file", help="PEM private key of --cert-file")
    parser.add_argument(
        "--server-name",
        help="the name to check the zone's certificate against, when --target is an address "
        "the certificate does not name",
    )


def tls_options(args: argparse.Namespace) -> TlsOptions | None:
    """The TLS settings the options ask for; ``None`` for a plaintext channel.

    Raises:
        InvalidArgument: a client certificate without its key (or the reverse), client
            certificates without a CA, or a named file that cannot be read.
    """
    ca = args.ca_file or os.environ.get(CA_ENV) or None
    cert, key = args.cert_file, args.key_file
    if (cert is None) != (key is None):
        raise InvalidArgument("--cert-file and --key-file go together (mTLS needs both)")
    if ca is None:
        if cert is not None or args.server_name:
            raise InvalidArgument(
                "--cert-file, --key-file and --server-name need --ca-file (or "
                f"${CA_ENV}): the CA that signed the zone's certificate"
            )
        return None
    for flag, name in (("--ca-file", ca), ("--cert-file", cert), ("--key-file", key)):
        if name is not None and not Path(name).is_file():
            raise InvalidArgument(f"{flag}: no such file: {name}")
    return TlsOptions(
        ca_file=Path(ca),
        cert_file=Path(cert) if cert else None,
        key_file=Path(key) if key else None,
        server_name=args.server_name or None,
    )


def connect(args: argparse.Namespace) -> ZoneClient:
    """A client for ``--target`` with the token from ``--token-file``, else ``$ZONE_TOKEN``.

    Raises:
        InvalidArgument: the token file cannot be read or holds no token, or the TLS options
            do not fit together (:func:`tls_options`).
    """
    tls = tls_options(args)
    token = read_token(Path(args.token_file)) if args.token_file else None
    return ZoneClient(args.target, token=token or os.environ.get("ZONE_TOKEN"), tls=tls)


def read_token(path: Path) -> str:
    """The token a token file holds (the ``token:`` value ``zone token new`` printed).

    Raises:
        InvalidArgument: the file cannot be read, or holds no token.
    """
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise InvalidArgument(f"--token-file {path}: cannot read it ({reason})") from None
    if not token:
        raise InvalidArgument(
            f"--token-file {path} is empty: put the token `zone token new` printed in it"
        )
    return token


def unreachable_hint(args: argparse.Namespace) -> str:
    """What to try when ``--target`` cannot be reached, given the options used."""
    if getattr(args, "target", None) is None:
        return ""
    if getattr(args, "ca_file", None) is None and not os.environ.get(CA_ENV):
        return (
            f"no zone answers at {args.target}: is `zone serve` running there? It prints the "
            "address it serves on ('zone: serving on HOST:PORT'); pass it with --target. A zone "
            f"with tls (every zone beyond loopback) needs --ca-file CA.pem (or ${CA_ENV})"
        )
    return (
        f"is a zone serving on {args.target}, with a certificate signed by the --ca-file CA "
        "and naming that host (else --server-name NAME)?"
    )
