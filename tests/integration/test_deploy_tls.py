"""docs/DEPLOY.md's TLS, followed literally: its openssl commands, a replica and a worker on a
PostgreSQL state reached with ``sslmode=verify-full``, and the ``zone`` commands with ``--ca-file``.

The certificate commands are read from DEPLOY.md itself (the host name and address swapped for
loopback's), so a broken command there fails here. A real PostgreSQL 15 cluster with SSL on,
started by this test (tests/pgkit.py); a real ``zone serve`` and ``zone worker``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from pgkit import Cluster, running_cluster
from zonekit import TOKENS, make_zone_dir, serve_process

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "DEPLOY.md"


def _openssl_commands() -> list[str]:
    fences = re.findall(r"^```(\w*)\n(.*?)^```", DEPLOY.read_text(), re.MULTILINE | re.DOTALL)
    (block,) = [body for _, body in fences if "openssl req -x509" in body]
    lines = block.replace("\\\n", " ").splitlines()
    return [
        ln.split("  #", 1)[0]
        .replace("zone-a.internal", "localhost")
        .replace("10.0.0.11", "127.0.0.1")
        for ln in lines
        if ln.strip()
    ]


def _enable_ssl(cluster: Cluster, pki: Path) -> None:
    for name in ("server.crt", "server.key"):
        shutil.copy(pki / name, cluster.root / name)
        if os.geteuid() == 0:
            shutil.chown(cluster.root / name, "postgres", "postgres")
    (cluster.root / "server.key").chmod(0o600)
    for setting in (
        "ALTER SYSTEM SET ssl = on",
        f"ALTER SYSTEM SET ssl_cert_file = '{cluster.root / 'server.crt'}'",
        f"ALTER SYSTEM SET ssl_key_file = '{cluster.root / 'server.key'}'",
        "SELECT pg_reload_conf()",
    ):
        cluster.admin(setting)


def _sessions(cluster: Cluster, database: str) -> list[tuple[bool, str]]:
    import psycopg

    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.ssl, a.application_name FROM pg_stat_activity a "
            "JOIN pg_stat_ssl s USING (pid) WHERE a.datname = %s",
            (database,),
        ).fetchall()
    return [(bool(ssl), str(name)) for ssl, name in rows]


def _zone(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zone.cli", "--log-level", "ERROR", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_deploy_tls_end_to_end(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    for command in _openssl_commands():
        done = subprocess.run(command, shell=True, cwd=pki, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stderr)
    with running_cluster() as cluster:
        _enable_ssl(cluster, pki)
        cluster.admin("CREATE DATABASE zone_tls")
        url = f"{cluster.url('zone_tls')}?sslmode=verify-full&sslrootcert={pki / 'ca.crt'}"
        tls = f"tls:\n  cert: {pki / 'server.crt'}\n  key: {pki / 'server.key'}\n"
        jobs = "jobs:\n  executor: procrastinate\n  warm_workers: 0\n"
        config = make_zone_dir(tmp_path / "zone", state_db=url, extra_config=tls + jobs)
        migrated = _zone("db", "migrate", "--config", str(config))
        assert migrated.returncode == 0, migrated.stderr
        (tmp_path / "admin.token").write_text(TOKENS["admin"])
        replica, address = serve_process(config)
        worker = subprocess.Popen(
            [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "worker",
             "--config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert worker.stdout is not None
            assert worker.stdout.readline().startswith("zone worker: waiting")
            target = ("--target", address, "--token-file", str(tmp_path / "admin.token"))
            plain = _zone("admin", "budgets", *target)
            assert plain.returncode == 1 and "--ca-file" in plain.stderr
            budgets = _zone("admin", "budgets", *target, env={"ZONE_CA_FILE": str(pki / "ca.crt")})
            assert budgets.returncode == 0 and "bank-a" in budgets.stdout, budgets.stderr
            sessions = _sessions(cluster, "zone_tls")
            assert any(name.startswith("zone-presence-") for _, name in sessions), sessions
            assert len(sessions) >= 3 and all(ssl for ssl, _ in sessions), sessions
        finally:
            for proc in (worker, replica):
                proc.send_signal(signal.SIGTERM)
            for proc in (worker, replica):
                proc.wait(timeout=60)
                assert proc.stdout is not None
                proc.stdout.close()


def test_verify_full_without_the_ca_is_refused_clearly(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    for command in _openssl_commands():
        subprocess.run(command, shell=True, cwd=pki, capture_output=True, check=True)
    with running_cluster() as cluster:
        _enable_ssl(cluster, pki)
        cluster.admin("CREATE DATABASE zone_tls")
        config = tmp_path / "zone.yaml"
        config.write_text(
            f"datasets_db: d\nstate_db: {cluster.url('zone_tls')}?sslmode=verify-full&"
            f"sslrootcert={tmp_path / 'missing.crt'}\nmodels_dir: m\npolicies_dir: p\n"
        )
        result = _zone("db", "migrate", "--config", str(config))
        assert result.returncode == 1
        assert "cannot reach the state database" in result.stderr
        assert "Traceback" not in result.stderr
