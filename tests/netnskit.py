"""Inside a loopback-only network namespace: the zone's console and Chromium, every outside try.

Run by ``tests/integration/test_console_netns.py`` as
``unshare --net sh -c 'ip link set lo up && python tests/netnskit.py ZONE_CONFIG OUT.json'``
(root). In the namespace only ``lo`` exists, so nothing can leave; this script records every
attempt to reach outside instead of letting it fail silently:

- the resolver address of ``/etc/resolv.conf`` is put on ``lo`` and a catcher answers on its
  port 53 (REFUSED), writing down every name anything in the namespace asked for;
- ``zone serve`` runs under ``strace -f``, so every ``connect``/``sendto`` of the zone process
  to an address that is not loopback is listed;
- Chromium (Debian's, via Selenium) logs in and opens every view; the DevTools performance log
  lists every URL a page requested. Chromium's own background lookups (update and search-engine
  hosts) are turned off by ``--host-resolver-rules`` (every name but the console's is
  NOTFOUND inside the browser), so any name that still reaches the catcher came from elsewhere.

Writes a JSON report; the test decides.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
VIEWS = ("/", "/principals", "/datasets", "/products", "/jobs", "/releases", "/consents",
         "/audit", "/audit/verify", "/alerts", "/operators", "/operators/bank-a")  # fmt: skip
SELF_TEST = "zone-netns-self-test.example"
_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')


def _resolver() -> str | None:
    for line in Path("/etc/resolv.conf").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            return parts[1]
    return None


def _catch_dns(address: str, names: list[str]) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if not ipaddress.ip_address(address).is_loopback:
        subprocess.run(["ip", "addr", "add", address, "dev", "lo"], check=True)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((address, 53))

    def serve() -> None:
        while True:
            data, peer = sock.recvfrom(4096)
            parts, i = [], 12
            while i < len(data) and data[i]:
                parts.append(data[i + 1 : i + 1 + data[i]].decode("ascii", "replace"))
                i += 1 + data[i]
            names.append(".".join(parts))
            sock.sendto(data[:2] + b"\x81\x85" + data[4:6] + b"\0" * 6 + data[12:], peer)

    threading.Thread(target=serve, daemon=True).start()


def _outside(trace: Path) -> list[str]:
    found = []
    for line in trace.read_text(errors="replace").splitlines():
        if not re.search(r"\b(connect|sendto|sendmsg|sendmmsg)\(", line):
            continue
        match = _ADDRESS.search(line)
        if match is None:
            continue
        address = ipaddress.ip_address(match.group(1) or match.group(2))
        mapped = getattr(address, "ipv4_mapped", None)
        if not (address.is_loopback or (mapped is not None and mapped.is_loopback)):
            found.append(line.strip()[:300])
    return found


def _start_zone(config: str, trace: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-o", str(trace),
         sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "serve", "--config", config],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for _ in range(5):
        line = proc.stdout.readline()
        if line.startswith("zone: console on "):
            return proc, line.split()[-1].rstrip("/")
    proc.kill()
    raise RuntimeError("the zone did not start its console")


def _stop(tracer: subprocess.Popen[str]) -> None:
    """SIGTERM the zone itself (strace's child; strace exits with it), then reap strace."""
    children = Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read_text().split()
    for pid in children:
        os.kill(int(pid), signal.SIGTERM)
    try:
        tracer.wait(30)
    except subprocess.TimeoutExpired:
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        tracer.wait(30)


def _browse(base: str, token: str, shots: Path) -> tuple[list[str], list[str]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--user-data-dir={tempfile.mkdtemp()}"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    requested, opened = [], []
    try:
        driver.get(base + "/login")
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.ID, "login-button").click()
        WebDriverWait(driver, 10).until(lambda d: "/login" not in d.current_url)
        for view in VIEWS:
            driver.get(base + view)
            opened.append(f"{view} {driver.title}")
            driver.save_screenshot(str(shots / f"netns{view.replace('/', '_') or '_'}.png"))
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                url = urlparse(message["params"]["request"]["url"])
                if url.scheme not in ("data", "chrome", "about"):
                    requested.append(f"{url.scheme}://{url.hostname}")
    finally:
        driver.quit()
    return sorted(set(requested)), opened


def main(config: str, token: str, out: str) -> int:
    """Run the zone and Chromium in this namespace and write what tried to leave it."""
    work = Path(out).parent
    probe = socket.socket()
    probe.settimeout(2)
    isolated = probe.connect_ex(("192.0.2.1", 80)) != 0  # TEST-NET-1: never reachable here
    probe.close()
    names: list[str] = []
    resolver = _resolver()
    if resolver is not None:
        _catch_dns(resolver, names)
        try:  # the catcher hears a lookup made in this namespace (then it is not counted)
            socket.getaddrinfo(SELF_TEST, 80)
        except socket.gaierror:
            pass
    heard = SELF_TEST in names
    trace = work / "zone.strace"
    zone, base = _start_zone(config, trace)
    try:
        requested, opened = _browse(base, token, work)
    finally:
        _stop(zone)
        if zone.stdout is not None:
            zone.stdout.close()
    time.sleep(0.2)
    report = {
        "isolated": isolated,
        "resolver": resolver,
        "catcher_heard_self_test": heard,
        "base": base,
        "opened": opened,
        "page_requests": requested,
        "dns_names": sorted(set(names) - {SELF_TEST}),
        "zone_outside": _outside(trace),
        "zone_syscalls_traced": sum(1 for _ in trace.open(errors="replace")),
    }
    Path(out).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
