from __future__ import annotations

from pathlib import Path

import pytest

from zone.config import load_config
from zone.errors import ValidationFailed
from zone.state.location import PostgresUrl, parse_state_db, redacted

CONFIG = "datasets_db: d.duckdb\nmodels_dir: models\npolicies_dir: policies\n"


def test_a_path_is_a_sqlite_file_relative_to_the_config(tmp_path: Path) -> None:
    assert parse_state_db("var/state.sqlite", tmp_path) == tmp_path.resolve() / "var/state.sqlite"
    assert parse_state_db("/abs/s.db", tmp_path) == Path("/abs/s.db")
    assert parse_state_db("C:\\zone\\s.db", tmp_path) == tmp_path.resolve() / "C:\\zone\\s.db"


@pytest.mark.parametrize(
    "url", ["postgresql://zone@db:5432/zone", "postgres://zone:pw@10.0.0.5/zone?sslmode=require"]
)
def test_a_postgresql_url_selects_postgresql(url: str, tmp_path: Path) -> None:
    assert parse_state_db(url, tmp_path) == PostgresUrl(url)


@pytest.mark.parametrize("value", ["mysql://db/zone", "sqlite:///s.db", "http://x", "   "])
def test_other_urls_are_errors_not_file_names(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="state_db"):
        parse_state_db(value, tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_password_never_shows() -> None:
    url = PostgresUrl("postgresql://zone:s3cret@db.internal:5433/zone?sslmode=require")
    assert str(url) == "postgresql://zone@db.internal:5433/zone"
    assert "s3cret" not in repr(redacted(url.url))


def test_config_reads_a_url_and_the_state_section(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(
        CONFIG + "state_db: postgresql://zone@127.0.0.1:5432/zone\n"
        "state: {max_connections: 64, lock_timeout_seconds: 5}\n"
    )
    config = load_config(tmp_path / "zone.yaml")
    assert config.state_db == PostgresUrl("postgresql://zone@127.0.0.1:5432/zone")
    assert config.state.max_connections == 64 and config.state.lock_timeout_seconds == 5


def test_config_refuses_an_unsupported_scheme_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(CONFIG + "state_db: mysql://db/zone\n")
    with pytest.raises(ValidationFailed) as err:
        load_config(tmp_path / "zone.yaml")
    assert ":4: " in str(err.value.problems[0]) and "mysql" in err.value.message


def test_config_refuses_more_kept_connections_than_allowed(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(
        CONFIG + "state_db: s.db\nstate: {min_connections: 9, max_connections: 4}\n"
    )
    with pytest.raises(ValidationFailed, match="min_connections"):
        load_config(tmp_path / "zone.yaml")
