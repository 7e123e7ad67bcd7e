"""The serving set in force: dataset versions, products and policies, swapped together.

``holder.ServingHolder`` owns the snapshot in force, reloads it (policies, ``models/*.yaml``
and the active dataset versions, validated together) and activates dataset versions; each
call pins one snapshot for its whole duration. ``live`` gives the product services views that
resolve to the call's snapshot.
"""

from __future__ import annotations

from zone.serving.holder import Activation, ReloadResult, ServingHolder
from zone.serving.live import LiveCatalog, LiveProducts
from zone.serving.snapshot import Snapshot, Sources, load_snapshot

__all__ = [
    "Activation",
    "LiveCatalog",
    "LiveProducts",
    "ReloadResult",
    "ServingHolder",
    "Snapshot",
    "Sources",
    "load_snapshot",
]
