"""The console and a real browser in a loopback-only network namespace: nothing tries to leave.

``unshare --net`` (root; CI runs as root) gives a namespace whose only interface is ``lo``;
``tests/netnskit.py`` runs ``zone serve`` (under strace) and Debian's Chromium there, opens
every view, and reports every outside attempt: URLs the pages requested, names anything asked
the resolver for, and connections the zone process tried to non-loopback addresses. Skipped,
with the reason, where the namespace cannot be made (not root, no ``unshare``/``ip``/``strace``,
or the kernel refuses) or Chromium is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from consolekit import add_supervisor
from zonekit import REPO, make_zone_dir

TOOLS = ("unshare", "ip", "strace", "chromium", "chromedriver")


def _why_not() -> str:
    if os.geteuid() != 0:
        return "unshare --net needs root (CI runs the suite as root)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} (make install)"
    probe = subprocess.run(
        ["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"unshare --net failed here: {probe.stderr.strip()[:200]}"
    return ""


pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "-")]


def test_console_and_browser_make_no_outside_request(tmp_path: Path) -> None:
    config = make_zone_dir(
        tmp_path / "zone",
        rows=500,
        extra_config="console:\n  listen: 127.0.0.1:0\n  alerts: {interval_seconds: 3600}\n",
    )
    token = add_supervisor(config)
    out = tmp_path / "report.json"
    script = (
        "ip link set lo up && exec "
        f"{sys.executable} {REPO / 'tests' / 'netnskit.py'} {config} {token} {out}"
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'tests'}"}
    run = subprocess.run(
        ["unshare", "--net", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["isolated"], "the namespace reached an outside address"
    assert len(report["opened"]) == 12 and all("Zone" in o for o in report["opened"]), report
    assert report["page_requests"] == ["http://127.0.0.1"], report["page_requests"]
    assert report["catcher_heard_self_test"] or report["resolver"] is None
    assert report["dns_names"] == [], report["dns_names"]
    assert report["zone_syscalls_traced"] > 0  # strace saw the zone's own loopback traffic
    assert report["zone_outside"] == [], report["zone_outside"]
