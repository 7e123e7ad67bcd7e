"""docs/DEPLOY.md's backup and restore, as written: pg_dump, pg_restore into a new database,
``zone audit verify`` against the regulator's checkpoint; a restore that lost records fails.

Real PostgreSQL (the session's throwaway cluster) and its own pg_dump and pg_restore.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pgkit import Cluster

from zone.audit import AuditChain
from zone.state.location import PoolOptions, PostgresUrl
from zone.state.opening import open_state

pytestmark = pytest.mark.skipif(
    not (shutil.which("pg_dump") and shutil.which("pg_restore")),
    reason="PostgreSQL's client tools are not installed",
)


def _zone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zone.cli", "--log-level", "ERROR", *args],
        capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ),
    )  # fmt: skip


def _append(url: str, n: int) -> None:
    state = open_state(PostgresUrl(url), PoolOptions(min_connections=1, max_connections=2))
    try:
        chain = AuditChain(state)
        for i in range(n):
            chain.append("rpc", {"principal": "bank-a", "status": "OK", "i": i})
    finally:
        state.close()


def _config(path: Path, url: str) -> Path:
    path.write_text(
        f"datasets_db: d\nstate_db: {url}\nmodels_dir: m\npolicies_dir: p\n"
        "audit:\n  signing_key: zone.key\n"
    )
    return path


def test_a_restored_dump_verifies_and_a_stale_one_is_caught(
    tmp_path: Path, pg_url: str, pg_cluster: Cluster
) -> None:
    assert _zone("audit", "keygen", "--out", str(tmp_path / "zone.key")).returncode == 0
    live = _config(tmp_path / "zone.yaml", pg_url)
    _append(pg_url, 5)
    dump = tmp_path / "zone.dump"
    dumped = subprocess.run(["pg_dump", "-Fc", "-f", str(dump), pg_url], capture_output=True)
    assert dumped.returncode == 0, dumped.stderr
    checkpoint = tmp_path / "cp.json"
    assert (
        _zone("audit", "checkpoint", "--config", str(live), "--out", str(checkpoint)).returncode
        == 0
    )
    name = f"r_{uuid.uuid4().hex[:12]}"
    restored_url = pg_cluster.create_database(name, template="template0")
    try:
        loaded = subprocess.run(
            ["pg_restore", "--no-owner", "-d", restored_url, str(dump)], capture_output=True
        )
        assert loaded.returncode == 0, loaded.stderr
        restored = _config(tmp_path / "restored.yaml", restored_url)
        key = ("--public-key", str(tmp_path / "zone.key.pub"))
        ok = _zone(
            "audit", "verify", "--config", str(restored), "--checkpoint", str(checkpoint), *key
        )
        assert ok.returncode == 0, ok.stderr
        # The zone served on after the dump; the regulator holds a later checkpoint.
        _append(pg_url, 3)
        later = tmp_path / "cp-later.json"
        assert (
            _zone("audit", "checkpoint", "--config", str(live), "--out", str(later)).returncode == 0
        )
        stale = _zone(
            "audit", "verify", "--config", str(restored), "--checkpoint", str(later), *key
        )
        assert stale.returncode == 1
        assert "the chain is shorter than the checkpoint" in stale.stdout + stale.stderr
    finally:
        pg_cluster.drop_database(name)
