"""What every ``zone`` command that calls a running zone shares: where, and with which token."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from zone.client import ZoneClient

DEFAULT_TARGET = "127.0.0.1:50051"


def add_connection(parser: argparse.ArgumentParser, *, admin: bool = False) -> None:
    """Add ``--target`` and ``--token-file`` (read by :func:`connect`)."""
    parser.add_argument("--target", default=DEFAULT_TARGET, help="the zone's HOST:PORT")
    who = "admin token file" if admin else "token file"
    parser.add_argument("--token-file", help=f"{who} (default: the token in $ZONE_TOKEN)")


def connect(args: argparse.Namespace) -> ZoneClient:
    """A client for ``--target`` with the token from ``--token-file``, else ``$ZONE_TOKEN``."""
    token = Path(args.token_file).read_text().strip() if args.token_file else None
    return ZoneClient(args.target, token=token or os.environ.get("ZONE_TOKEN"))
