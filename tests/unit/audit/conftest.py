from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zone.audit import AuditChain
from zone.state import StateStore

Tamper = Callable[..., None]


def tamper_file(path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Change the database the way an attacker with write access to the file would.

    The append-only triggers are a guard for zone code, not a security boundary: drop them first.
    """
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        conn.execute(sql, params)
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture
def chain(store: StateStore) -> AuditChain:
    return AuditChain(store)


@pytest.fixture
def tamper() -> Tamper:
    return tamper_file
