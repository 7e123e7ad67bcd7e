"""Apply a state database's missing migrations, whichever backend it is (``zone db migrate``)."""

from __future__ import annotations

from zone.errors import FailedPrecondition
from zone.state.location import PostgresUrl, StateLocation


def migrate_location(location: StateLocation) -> tuple[list[int], int]:
    """Migrate the state database at ``location``; return the versions applied and the newest.

    Raises:
        FailedPrecondition: a PostgreSQL database cannot be reached, or the database was
            written by a newer zone.
    """
    if isinstance(location, PostgresUrl):
        import psycopg

        from zone.state.pgschema import applied_migrations, migrate_postgres

        try:
            with psycopg.connect(location.url, autocommit=True) as conn:
                applied = migrate_postgres(conn)
                versions = applied_migrations(conn)
        except psycopg.OperationalError as exc:
            raise FailedPrecondition(f"cannot reach the state database {location}: {exc}") from None
        return list(applied), max(versions, default=0)
    from zone.state import connect, migrate

    conn_sqlite = connect(location)
    try:
        applied_sqlite = migrate(conn_sqlite)
        rows = conn_sqlite.execute("SELECT version FROM schema_migrations").fetchall()
    finally:
        conn_sqlite.close()
    return list(applied_sqlite), max((int(r[0]) for r in rows), default=0)
