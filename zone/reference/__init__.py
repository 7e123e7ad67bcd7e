"""The reference of what an administrator writes: JSON Schemas and docs/REFERENCE.md.

Generated from the pydantic models the zone validates its files with, so that the reference,
the editors' schemas and the validation cannot drift apart (``make reference-check``).
"""

from __future__ import annotations

from zone.reference.markdown import render
from zone.reference.schema import DOCUMENTS, json_schema

__all__ = ["DOCUMENTS", "json_schema", "render"]
