"""A built zone (no gRPC server) serving its console on a loopback port, and role tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from consolekit import CONSOLE_CONFIG, Browser, add_supervisor


@dataclass
class Console:
    """A zone's services, its running console and the token of each demo role."""

    services: Any
    deps: Any
    port: int
    tokens: dict[str, str]

    def browser(self, who: str | None = None) -> Browser:
        return Browser(self.port, self.tokens[who] if who else None)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    from zonekit import TOKENS, make_zone_dir

    from zone.config import load_config
    from zone.console.server import start_console
    from zone.server.wiring import build, console_deps

    config_path = make_zone_dir(tmp_path_factory.mktemp("console"), extra_config=CONSOLE_CONFIG)
    tokens = dict(TOKENS)
    tokens["supervisor"] = add_supervisor(config_path)
    services = build(load_config(config_path))
    deps = console_deps(services)
    running = start_console(deps)
    try:
        yield Console(services, deps, running.port, tokens)
    finally:
        running.stop()
        services.close()
