"""The ``zone`` command's argument parser: every default shown in ``--help``, errors shown once.

Subcommand parsers are made by argparse from the class of their parent, so every
``zone ... --help`` uses :class:`HelpFormatter`: an option's default is appended to its help
(an option without help text gets one that says its default), descriptions and epilogs keep
their line breaks (the syntax of ``--measure`` and ``--filter`` is laid out there).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows ``(default: X)`` for every option that has one; keeps descriptions as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default in ([], "", argparse.SUPPRESS)
        shown = not unset and not action.required
        if shown and "%(default)" not in text and "default:" not in text:
            text = f"{text} (default: %(default)s)".strip()
        return text


class ZoneArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose help shows defaults (its subparsers inherit the class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def print_error(message: str, details: tuple[str, ...] = ()) -> None:
    """Print an error to stderr once: detail lines the message already holds are not repeated.

    The zone puts a validation failure's problems both in the status message (for any gRPC
    client) and in its rich details (for programs); printing both showed every problem twice.
    """
    print(f"error: {message}", file=sys.stderr)
    for line in details:
        if line not in message:
            print(f"  {line}", file=sys.stderr)
