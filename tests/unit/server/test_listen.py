"""Where the zone listens: loopback or TLS (or an explicit --insecure-plaintext), free ports."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from zone.config import TlsConfig, ZoneConfig, load_config
from zone.server.listen import ListenRefused, check_free, check_transport, is_loopback


@pytest.fixture
def config(tmp_path: Path) -> ZoneConfig:
    path = tmp_path / "zone.yaml"
    path.write_text("datasets_db: d.duckdb\nstate_db: s.sqlite\nmodels_dir: m\npolicies_dir: p\n")
    return load_config(path)


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("no-such-host.invalid", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("listen", ["0.0.0.0:50051", "[::]:50051", "10.0.0.5:443"])
def test_plaintext_beyond_loopback_is_refused(config: ZoneConfig, listen: str) -> None:
    with pytest.raises(ListenRefused, match="without TLS.*--insecure-plaintext"):
        check_transport(config.with_listen(listen), insecure_plaintext=False)


def test_insecure_plaintext_is_allowed_with_a_warning(
    config: ZoneConfig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="zone.server.listen"):
        check_transport(config.with_listen("0.0.0.0:50051"), insecure_plaintext=True)
    assert "WITHOUT TLS" in caplog.text


def test_loopback_and_tls_need_no_flag(
    config: ZoneConfig, caplog: pytest.LogCaptureFixture
) -> None:
    check_transport(config.with_listen("127.0.0.1:50051"), insecure_plaintext=False)
    tls = TlsConfig(Path("cert.pem"), Path("key.pem"), None)
    with_tls = ZoneConfig(**{**config.with_listen("0.0.0.0:50051").__dict__, "tls": tls})
    check_transport(with_tls, insecure_plaintext=False)
    assert caplog.records == []


def test_a_taken_port_is_one_clear_refusal(held_port: int) -> None:
    with pytest.raises(ListenRefused) as err:
        check_free(f"127.0.0.1:{held_port}")
    assert err.value.message == (
        f"cannot listen on 127.0.0.1:{held_port}: the address is already in use (another "
        "program, perhaps another zone); stop that program or choose --listen HOST:PORT"
    )


def test_port_zero_and_free_ports_pass() -> None:
    check_free("127.0.0.1:0")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_free(f"127.0.0.1:{port}")
