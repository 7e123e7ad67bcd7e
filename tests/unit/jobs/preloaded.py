"""A module the pool tests ask workers to preload (and warm up); nothing else imports it."""

from __future__ import annotations

WARMED = False


def warm() -> None:
    """The warm-up entry ``unit.jobs.preloaded:warm``."""
    global WARMED
    WARMED = True
