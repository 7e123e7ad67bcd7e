"""Call metadata keys the zone sets and the SDK reads."""

from __future__ import annotations

INSTANCE_HEADER = "x-zone-instance"
"""Initial metadata of every reply: the id a zone draws at each start (``zone serve`` prints it),
so a client can tell the zone it started from another one listening at the address it dialled."""

REQUEST_ID_HEADER = "x-request-id"
"""Trailing metadata of every authenticated call's reply: the id of its audit record."""
