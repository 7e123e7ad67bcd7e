"""The console in a real browser: Debian's headless Chromium driven by Selenium.

Logs in through the form, opens every view, takes a screenshot of each (into pytest's tmp
dir, not committed), and checks that no page logs a console error, that the charts render,
and that the browser requested nothing but the console itself (every asset is local).
Skipped where Debian's ``chromium`` and ``chromium-driver`` are not installed (``make
install`` installs them).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from consolekit import add_supervisor
from zonekit import TOKENS, client, make_zone_dir, running_zone

from zone.client.stats import count
from zone.server.app import RunningZone

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
VIEWS = ("/", "/principals", "/datasets", "/products", "/jobs", "/releases", "/consents",
         "/audit", "/audit/verify", "/alerts", "/operators", "/operators/bank-a")  # fmt: skip
CHARTS = {"/": ("chart-calls", "chart-budget", "chart-revenue"), "/jobs": ("chart-jobs",),
          "/consents": ("chart-volume",)}  # fmt: skip

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian chromium and chromium-driver are not installed (make install)",
)


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, str]]:
    config = make_zone_dir(
        tmp_path_factory.mktemp("browser-zone"),
        extra_config="console:\n  listen: 127.0.0.1:0\n  alerts: {interval_seconds: 3600}\n",
    )
    supervisor = add_supervisor(config)
    with running_zone(config) as running:
        with client(running, "bank") as bank:
            for group in ([], ["district"]):
                bank.query_statistics("enterprise-stats", [count()], epsilon=0.1, group_by=group)
        yield running, supervisor


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--no-first-run",
                "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


def _login(driver, base: str, token: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/")
    assert "/login" in driver.current_url
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login-button").click()
    WebDriverWait(driver, 10).until(lambda d: "/login" not in d.current_url)


def _requested_hosts(driver) -> set[str]:
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = urlparse(message["params"]["request"]["url"])
            if url.scheme not in ("data", "chrome", "about"):  # the browser's own pages
                hosts.add(f"{url.scheme}://{url.hostname}")
    return hosts


def test_every_view_in_chromium(zone, driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    running, _ = zone
    assert running.console is not None
    base = f"http://127.0.0.1:{running.console.port}"
    _login(driver, base, TOKENS["admin"])
    for view in VIEWS:
        driver.get(base + view)
        assert driver.find_element(By.TAG_NAME, "h1").text, view
        name = view.strip("/").replace("/", "-") or "overview"
        driver.save_screenshot(str(tmp_path / f"{name}.png"))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], (view, errors)
        for chart in CHARTS.get(view, ()):
            width = driver.execute_script(
                "return document.getElementById(arguments[0]).naturalWidth", chart
            )
            assert width and width > 100, (view, chart, width)
    assert (tmp_path / "overview.png").stat().st_size > 10_000
    assert _requested_hosts(driver) == {"http://127.0.0.1"}


def test_admin_suspends_and_resumes_through_the_forms(zone, driver) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    running, _ = zone
    assert running.console is not None
    base = f"http://127.0.0.1:{running.console.port}"
    _login(driver, base, TOKENS["admin"])
    driver.get(base + "/principals")
    row = driver.find_element(By.XPATH, "//table[@id='principals']//tr[td[1]='bank-a']")
    row.find_element(By.NAME, "note").send_keys("<b>probing</b>")
    row.find_element(By.TAG_NAME, "button").click()
    bank_row = "//table[@id='principals']//tr[td[1]='bank-a']"
    wait = WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: "suspended" in d.find_element(By.XPATH, bank_row).text)
    row = driver.find_element(By.XPATH, bank_row)
    assert "<b>probing</b>" in row.text  # shown as text, not markup
    assert running.services.suspensions.is_suspended("bank-a")
    row.find_element(By.TAG_NAME, "button").click()
    wait.until(lambda d: "active" in d.find_element(By.XPATH, bank_row).text)
    assert not running.services.suspensions.is_suspended("bank-a")
    driver.find_element(By.XPATH, "//form[@action='/logout']/button").click()
    wait.until(lambda d: "/login" in d.current_url)


def test_supervisor_sees_no_actions(zone, driver) -> None:
    from selenium.webdriver.common.by import By

    running, supervisor = zone
    assert running.console is not None
    base = f"http://127.0.0.1:{running.console.port}"
    _login(driver, base, supervisor)
    for view in ("/principals", "/products", "/alerts"):
        driver.get(base + view)
        buttons = [b.text for b in driver.find_elements(By.TAG_NAME, "button")]
        assert buttons == ["Log out"] or all(b in ("Log out", "Filter", "Search", "Show")
                                             for b in buttons), (view, buttons)  # fmt: skip
    assert "read-only" in driver.find_element(By.CLASS_NAME, "who").text


def test_an_operator_lands_on_its_own_page(zone, driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    running, _ = zone
    assert running.console is not None
    base = f"http://127.0.0.1:{running.console.port}"
    _login(driver, base, TOKENS["bank"])
    assert driver.current_url == base + "/me"
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("bank-a")
    links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "nav a")]
    assert links == [base + "/me"]
    rows = driver.find_elements(By.CSS_SELECTOR, "#own-releases tr")
    assert len(rows) >= 3  # the header and the two releases of the fixture
    driver.save_screenshot(str(tmp_path / "own-page.png"))
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    driver.get(base + "/principals")
    assert "not permitted" in driver.find_element(By.TAG_NAME, "main").text
    assert _requested_hosts(driver) == {"http://127.0.0.1"}
