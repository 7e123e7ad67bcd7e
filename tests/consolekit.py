"""Test helpers for the supervision console: a supervisor principal, plain HTTP on loopback."""

from __future__ import annotations

import hashlib
import http.client
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

CONSOLE_CONFIG = "console:\n  listen: 127.0.0.1:0\n  alerts:\n    interval_seconds: 3600\n"


def add_supervisor(config_path: Path, principal: str = "regulator") -> str:
    """A policy file with one supervisor principal (no grant); returns its token."""
    token = secrets.token_urlsafe(24)
    digest = hashlib.sha256(token.encode()).hexdigest()
    (config_path.parent / "policies" / f"{principal}.yaml").write_text(
        "principals:\n"
        f"  - id: {principal}\n"
        "    role: supervisor\n"
        "    organisation: Data regulator (test)\n"
        f"    token_sha256: {digest}\n"
    )
    return token


@dataclass
class Reply:
    """One HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Browser:
    """A minimal HTTP client for the console on 127.0.0.1 (keeps cookies, no redirects)."""

    port: int
    token: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            sent = dict(headers or {})
            if self.token is not None:
                sent.setdefault("Authorization", f"Bearer {self.token}")
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = raw_body
            if form is not None:
                body = urlencode(form).encode()
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            got: dict[str, str] = {}
            raw_cookies = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    got[key] = rest.split(";", 1)[0].strip('"')
            for key, value in got.items():
                if value:
                    self.cookies[key] = value
                else:
                    self.cookies.pop(key, None)
            header_map = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, header_map, data, got, raw_cookies)
        finally:
            conn.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str] | None = None) -> Reply:
        return self.request("POST", path, form=form or {})
