from __future__ import annotations

from pathlib import Path

import pytest

from zone.config import load_config
from zone.config_file import DEFAULT_LISTEN
from zone.errors import ValidationFailed

MINIMAL = "datasets_db: d.duckdb\nstate_db: s.sqlite\nmodels_dir: models\npolicies_dir: policies\n"


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(MINIMAL)
    config = load_config(tmp_path / "zone.yaml")
    assert config.listen == DEFAULT_LISTEN == "127.0.0.1:50051"
    assert config.datasets_db == tmp_path.resolve() / "d.duckdb"
    assert config.tls is None and config.limits.max_message_bytes == 4 * 1024 * 1024


def test_all_problems_reported(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(
        "listen: 127.0.0.1:50051\nstate_db: 3\nmodels_dir: m\npolicies_dir: p\n"
        "limits: {max_workers: 0}\nsurprise: 1\n"
    )
    with pytest.raises(ValidationFailed) as err:
        load_config(tmp_path / "zone.yaml")
    messages = "\n".join(str(p) for p in err.value.problems)
    assert "datasets_db" in messages and ":2: state_db" in messages
    assert ":5: limits.max_workers" in messages and ":6: surprise" in messages


@pytest.mark.parametrize("listen", ["50051", "host:", ":1", "h:99999", "h:x"])
def test_bad_listen_address(tmp_path: Path, listen: str) -> None:
    (tmp_path / "zone.yaml").write_text(MINIMAL + f"listen: '{listen}'\n")
    with pytest.raises(ValidationFailed, match="HOST:PORT"):
        load_config(tmp_path / "zone.yaml")


def test_tls_client_ca_means_mtls(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(
        MINIMAL + "tls: {cert: s.crt, key: s.key, client_ca: ca.crt}\n"
    )
    tls = load_config(tmp_path / "zone.yaml").tls
    assert tls is not None and tls.client_ca_file == tmp_path.resolve() / "ca.crt"


def test_with_listen_overrides_only_listen(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(MINIMAL)
    config = load_config(tmp_path / "zone.yaml")
    other = config.with_listen("127.0.0.1:0")
    assert other.listen == "127.0.0.1:0" and other.state_db == config.state_db


def test_audit_signing_key_is_optional_and_resolved(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(MINIMAL)
    assert load_config(tmp_path / "zone.yaml").audit.signing_key is None
    (tmp_path / "zone.yaml").write_text(MINIMAL + "audit: {signing_key: keys/zone.key}\n")
    config = load_config(tmp_path / "zone.yaml")
    assert config.audit.signing_key == tmp_path.resolve() / "keys" / "zone.key"
    (tmp_path / "zone.yaml").write_text(MINIMAL + "audit: {signing_key: k, other: 1}\n")
    with pytest.raises(ValidationFailed, match="other"):
        load_config(tmp_path / "zone.yaml")


def test_stream_slots_always_leave_unary_calls_a_thread(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(MINIMAL + "limits: {max_workers: 4}\n")
    limits = load_config(tmp_path / "zone.yaml").limits
    assert limits.stream_slots == 2 and limits.max_queue_wait_seconds == 5.0
    (tmp_path / "zone.yaml").write_text(MINIMAL + "limits: {max_workers: 4, max_open_streams: 4}\n")
    with pytest.raises(ValidationFailed, match=r":5: limits.max_open_streams must be below"):
        load_config(tmp_path / "zone.yaml")


def test_duckdb_settings_have_bounded_defaults(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(MINIMAL)
    duckdb = load_config(tmp_path / "zone.yaml").duckdb
    assert duckdb.memory_limit == "192MB" and duckdb.threads is None
    (tmp_path / "zone.yaml").write_text(MINIMAL + "duckdb: {memory_limit: 2GiB, threads: 2}\n")
    duckdb = load_config(tmp_path / "zone.yaml").duckdb
    assert duckdb.memory_limit == "2GiB" and duckdb.threads == 2


@pytest.mark.parametrize(
    "section",
    [
        "{memory_limit: 256}",
        "{memory_limit: '-1GB'}",
        "{memory_limit: '1 GB'}",
        "{memory_limit: 80%}",
        "{memory_limit: '1GB; SET x'}",
        "{threads: 0}",
        "{other: 1}",
    ],
)
def test_bad_duckdb_settings_are_refused_with_their_line(tmp_path: Path, section: str) -> None:
    (tmp_path / "zone.yaml").write_text(MINIMAL + f"duckdb: {section}\n")
    with pytest.raises(ValidationFailed) as err:
        load_config(tmp_path / "zone.yaml")
    assert ":5: duckdb." in "\n".join(str(p) for p in err.value.problems)


def test_match_workers_and_secret_file(tmp_path: Path) -> None:
    (tmp_path / "zone.yaml").write_text(MINIMAL)
    default = load_config(tmp_path / "zone.yaml").verification
    assert default.workers == 2 and default.match_secret_file is None  # next to the state db
    (tmp_path / "zone.yaml").write_text(
        MINIMAL + "verification: {workers: 0, match_secret_file: keys/match.key}\n"
    )
    chosen = load_config(tmp_path / "zone.yaml").verification
    assert chosen.workers == 0 and chosen.match_secret_file == tmp_path.resolve() / "keys/match.key"
    (tmp_path / "zone.yaml").write_text(MINIMAL + "verification: {workers: -1, secret: x}\n")
    with pytest.raises(ValidationFailed) as err:
        load_config(tmp_path / "zone.yaml")
    messages = "\n".join(str(p) for p in err.value.problems)
    assert "verification.workers" in messages and "verification.secret" in messages
