"""Start-up: health is NOT_SERVING and zone calls are UNAVAILABLE until everything is loaded."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from zonekit import TOKENS, make_zone_dir

from zone.client import UnavailableError, ZoneClient
from zone.config import ZoneConfig, load_config
from zone.errors import ValidationFailed
from zone.server.app import RunningZone, start
from zone.server.wiring import ZoneServices, build


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        return int(reply.status)


def test_not_serving_until_loaded(tmp_path: Path) -> None:
    config = load_config(make_zone_dir(tmp_path)).with_listen(f"127.0.0.1:{_free_port()}")
    target = config.listen
    release, loading = threading.Event(), threading.Event()

    def slow_load(cfg: ZoneConfig) -> ZoneServices:
        loading.set()
        assert release.wait(30)
        return build(cfg)

    started: list[RunningZone] = []
    thread = threading.Thread(target=lambda: started.append(start(config, load=slow_load)))
    thread.start()
    try:
        assert loading.wait(30)
        assert _health(target) == health_pb2.HealthCheckResponse.NOT_SERVING
        with ZoneClient(target, token=TOKENS["bank"]) as bank:
            with pytest.raises(UnavailableError, match="starting"):
                bank.list_datasets()
            release.set()
            thread.join(30)
            assert _health(target) == health_pb2.HealthCheckResponse.SERVING
            assert bank.list_datasets()
    finally:
        release.set()
        thread.join(30)
        for zone in started:
            zone.stop(grace=0)


def test_invalid_products_stop_the_server(tmp_path: Path) -> None:
    config_path = make_zone_dir(tmp_path)
    (tmp_path / "models" / "broken.yaml").write_text("id: x\nkind: statistics\n")
    config = load_config(config_path).with_listen(f"127.0.0.1:{_free_port()}")
    with pytest.raises(ValidationFailed) as err:
        start(config)
    assert any(p.source.endswith("broken.yaml") for p in err.value.problems)
    with socket.socket() as sock:  # the port was released
        sock.bind(("127.0.0.1", int(config.listen.rsplit(":", 1)[1])))
