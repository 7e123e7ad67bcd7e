"""A throwaway PostgreSQL 15 cluster for tests: initdb, start on a free loopback port, stop.

Debian's postgresql-15 keeps ``initdb`` and ``pg_ctl`` in its own bin directory, off PATH;
:func:`pg_bin_dir` finds it through ``dpkg -L``. Both refuse to run as root, so when the suite
runs as root they run as the ``postgres`` OS user (``runuser``) in a directory it owns. The
cluster listens on 127.0.0.1 only, keeps its unix socket in its own directory, runs with
``fsync=off`` (a test cluster is thrown away) and is stopped by its own data directory
(``pg_ctl -m immediate stop``), never by process name.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "postgresql-15"
START_TIMEOUT_S = 30


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def pg_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` of the postgresql-15 package.

    Raises:
        PostgresMissing: the package is not installed (``make install`` installs it).
    """
    try:
        listed = subprocess.run(
            ["dpkg", "-L", PACKAGE], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PostgresMissing(
            f"{PACKAGE} is not installed: the PostgreSQL tests need its initdb and pg_ctl "
            f"(run `make install`, or `apt-get install -y {PACKAGE}`)"
        ) from exc
    for line in listed.splitlines():
        if line.endswith("/bin/initdb"):
            return Path(line).parent
    raise PostgresMissing(f"{PACKAGE} is installed but ships no bin/initdb")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    """A running throwaway cluster; ``url(db)`` names one of its databases."""

    root: Path
    port: int
    bin_dir: Path
    fsync: bool = False

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (what ``pg_ctl`` stops)."""
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` over TCP on loopback, as the superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None, template: str = "template0") -> str:
        """Create a database copied from ``template`` and return its URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its sessions."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction in the ``postgres`` database."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.encode("utf-8"))

    def start(self) -> None:
        """Start the server (loopback only, its socket in its own directory, fsync off)."""
        durability = "on" if self.fsync else "off"
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync={durability} "
                   f"-c full_page_writes={durability} -c max_connections=200")  # fmt: skip
        log = self.root / "log"
        started = self.pg_ctl("-w", "-t", str(START_TIMEOUT_S), "-l", str(log), "-o", options,
                              "start")  # fmt: skip
        if started.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}{started.stderr}\n{text}")

    def restart(self) -> None:
        """Start the server again after a stop (same port and data)."""
        self.start()

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``pg_ctl -D <data dir> ARGS`` as the cluster's owner."""
        return _run_as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args])


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _run_as_owner(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)


def _checked(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="zone-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    root.chmod(0o700)
    return root


def start_cluster(*, fsync: bool = False) -> Cluster:
    """Create and start a cluster in a new temporary directory (about 1.5 s).

    ``fsync=True`` (benchmarks) makes commits as durable as a production server's.

    Raises:
        PostgresMissing: the binaries are not installed.
        RuntimeError: initdb or the start failed (their output is in the message).
    """
    bin_dir = pg_bin_dir()
    root = _make_root()
    cluster = Cluster(root, free_port(), bin_dir, fsync)
    initdb = [str(bin_dir / "initdb"), "-D", str(cluster.data_dir), "-A", "trust",
              "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]  # fmt: skip
    _checked(_run_as_owner(initdb), "initdb")
    try:
        cluster.start()
    except RuntimeError:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    """Stop the cluster by its data directory (immediate mode) and delete its files."""
    if (cluster.data_dir / "postmaster.pid").exists():
        cluster.pg_ctl("-m", "immediate", "-w", "stop")
    shutil.rmtree(cluster.root, ignore_errors=True)


@contextmanager
def running_cluster(*, fsync: bool = False) -> Iterator[Cluster]:
    """A started cluster, stopped and removed when the body ends."""
    cluster = start_cluster(fsync=fsync)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@contextmanager
def fresh_database(cluster: Cluster, template: str) -> Iterator[str]:
    """A new database copied from ``template`` (a migrated one), dropped when the body ends."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = cluster.create_database(name, template=template)
    try:
        yield url
    finally:
        cluster.drop_database(name)
