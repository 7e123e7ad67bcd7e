"""``zone db migrate``, and the state database as the offline admin commands read it.

``zone serve`` migrates its state database when it starts. With several replicas on one
PostgreSQL database, an operator migrates once, before rolling out a new version
(``zone db migrate --config FILE``); replicas that start together also migrate safely
(one after the other, under an advisory lock).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zone.config import ZoneConfig, load_config
from zone.errors import FailedPrecondition
from zone.state.api import Tx
from zone.state.location import PoolOptions, PostgresUrl, StateLocation
from zone.state.migrating import migrate_location

_ONE = PoolOptions(min_connections=1, max_connections=2)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``zone db migrate``."""
    db = sub.add_parser("db", help="the state database").add_subparsers(dest="sub", required=True)
    migrate = db.add_parser("migrate", help="apply the state database's missing migrations")
    migrate.add_argument("--config", required=True, help="zone config file (YAML)")
    migrate.set_defaults(handler=_cmd_migrate)


def _cmd_migrate(args: argparse.Namespace) -> int:
    config: ZoneConfig = load_config(Path(args.config))
    location = config.state_db
    applied, version = migrate_location(location)
    done = ", ".join(str(v) for v in applied) if applied else "none (up to date)"
    print(f"{location}: applied {done}; schema version {version}")
    return 0


@contextmanager
def reading_state(location: StateLocation) -> Iterator[Tx]:
    """A read-only snapshot of the state for offline checks; never creates or migrates.

    Raises:
        FailedPrecondition: no such database (file), or it holds no audit chain.
        Unavailable: a PostgreSQL database cannot be reached.
    """
    if not isinstance(location, PostgresUrl):
        from zone.audit import open_state_readonly

        with open_state_readonly(location) as conn:
            yield conn
        return
    from zone.state.postgres import PostgresState

    with PostgresState.open(location.url, _ONE, migrate=False) as state, state.read() as tx:
        found = tx.execute("SELECT to_regclass('audit_log') IS NOT NULL").fetchone()
        if not found or not found[0]:
            raise FailedPrecondition("the database is not a zone state database (no audit_log)")
        yield tx
