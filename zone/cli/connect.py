"""What every ``zone`` command that calls a running zone shares: where, and with which token."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from zone.client import ZoneClient
from zone.errors import InvalidArgument

DEFAULT_TARGET = "127.0.0.1:50051"


def add_connection(parser: argparse.ArgumentParser, *, admin: bool = False) -> None:
    """Add ``--target`` and ``--token-file`` (read by :func:`connect`)."""
    parser.add_argument("--target", default=DEFAULT_TARGET, help="the zone's HOST:PORT")
    who = "admin token file" if admin else "token file"
    parser.add_argument("--token-file", help=f"{who} (default: the token in $ZONE_TOKEN)")


def connect(args: argparse.Namespace) -> ZoneClient:
    """A client for ``--target`` with the token from ``--token-file``, else ``$ZONE_TOKEN``.

    Raises:
        InvalidArgument: the token file cannot be read or holds no token.
    """
    token = read_token(Path(args.token_file)) if args.token_file else None
    return ZoneClient(args.target, token=token or os.environ.get("ZONE_TOKEN"))


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


def no_zone_hint(target: str) -> str:
    """What to check when nothing answers at ``target``."""
    return (
        f"  no zone answers at {target}: is `zone serve` running there? It prints the address "
        "it serves on ('zone: serving on HOST:PORT'); pass it with --target"
    )
