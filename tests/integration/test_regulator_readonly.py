"""The regulator's offline checks need only SELECT on the PostgreSQL state (docs/DEPLOY.md).

``zone audit verify`` and ``zone operators report`` read the state and must not write to it:
a role granted SELECT alone runs them (checkpoints are signed by the administrator, who holds
the key). Real PostgreSQL (the session's throwaway cluster).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from pgkit import Cluster

from zone.audit import AuditChain
from zone.state.location import PoolOptions, PostgresUrl
from zone.state.opening import open_state


def _zone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zone.cli", "--log-level", "ERROR", *args],
        capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ),
    )  # fmt: skip


def test_a_select_only_role_verifies_and_evaluates(
    tmp_path: Path, pg_url: str, pg_cluster: Cluster
) -> None:
    state = open_state(PostgresUrl(pg_url), PoolOptions(min_connections=1, max_connections=2))
    try:
        chain = AuditChain(state)
        chain.append("rpc", {"principal": "bank-a", "status": "OK"})
        chain.append("ledger.charge", {"principal": "bank-a", "release_id": "r1",
                                       "epsilon_micro": 250_000})  # fmt: skip
    finally:
        state.close()
    role = f"auditor_{uuid.uuid4().hex[:8]}"
    database = pg_url.rsplit("/", 1)[1]
    pg_cluster.admin(f"CREATE ROLE {role} LOGIN")
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:  # DEPLOY.md's grants, as written
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}".encode())
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}".encode())
    config = tmp_path / "auditor.yaml"
    config.write_text(
        f"datasets_db: d\nstate_db: postgresql://{role}@127.0.0.1:{pg_cluster.port}/{database}\n"
        "models_dir: m\npolicies_dir: p\n"
    )
    try:
        verified = _zone("audit", "verify", "--config", str(config))
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("ok: 2 records")
        report = _zone("operators", "report", "bank-a", "--config", str(config))
        assert report.returncode == 0, report.stderr
        assert "250000" in report.stdout
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}".encode())
            conn.execute(f"REVOKE ALL ON SCHEMA public FROM {role}".encode())
        pg_cluster.admin(f"DROP ROLE {role}")
