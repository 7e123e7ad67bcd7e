"""The ``zone`` command end to end: import, policy check, serve (signals), audit verify."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from zonekit import EXAMPLES, TOKENS, generate_csv, make_zone_dir

from zone.client import ZoneClient
from zone.client.health import wait_until_serving


def zone_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zone.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_import_refuses_mismatched_metadata_and_changes_nothing(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path)
    store = tmp_path / "datasets.duckdb"  # the dataset store (a directory of versions)
    before = sorted((p.name, p.read_bytes()) for p in store.rglob("*") if p.is_file())
    meta = tmp_path / "bad.meta.yaml"
    text = (EXAMPLES / "enterprises.meta.yaml").read_text()
    meta.write_text(text.replace("penalties:", "penalty_count:", 1))
    result = zone_cli(
        "datasets", "import", str(tmp_path / "enterprises.csv"),
        "--name", "enterprises", "--meta", str(meta), "--config", str(config), "--replace",
    )  # fmt: skip
    assert result.returncode == 1
    assert "penalty_count" in result.stderr and "penalties" in result.stderr
    assert sorted((p.name, p.read_bytes()) for p in store.rglob("*") if p.is_file()) == before


def test_import_then_list(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path)
    csv = generate_csv(tmp_path / "second.csv", rows=500, seed=3)
    result = zone_cli(
        "datasets", "import", str(csv), "--name", "enterprises_b",
        "--meta", str(EXAMPLES / "enterprises.meta.yaml"), "--config", str(config),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "500 rows" in result.stdout
    listing = zone_cli("datasets", "list", "--config", str(config))
    assert "enterprises_b" in listing.stdout and "enterprises " in listing.stdout


def test_policy_check_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path)
    assert zone_cli("policy", "check", "--config", str(config)).returncode == 0
    bad = tmp_path / "policies" / "zz_bad.yaml"
    bad.write_text(
        "principals:\n"
        "  - id: x\n"
        "    role: superuser\n"  # line 3: bad role
        "    organisation: X\n"
        "    token: plaintext\n"  # line 5: plaintext token
        "grants:\n"
        "  - principal: ghost\n"  # line 7: unknown principal
        "    products: [enterprise-stats]\n"
        "    purpose: p\n"
    )
    result = zone_cli("policy", "check", "--config", str(config))
    assert result.returncode == 1
    for line in (3, 5, 7):
        assert f"policies/zz_bad.yaml:{line}:" in result.stderr, result.stderr


def test_token_new_prints_token_and_digest() -> None:
    import hashlib

    result = zone_cli("token", "new")
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines()[:2])
    token, digest = lines["token"].strip(), lines["token_sha256"].strip()
    assert hashlib.sha256(token.encode()).hexdigest() == digest


def test_serve_reloads_on_sighup_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "serve", "--config", str(config),
         "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"zone: serving on 127\.0\.0\.1:\d+\n", line), line
        second = proc.stdout.readline()
        assert re.fullmatch(r"zone: instance [0-9a-f]{16}\n", second), second
        target, instance = line.split()[-1], second.split()[-1]
        wait_until_serving(target, timeout=30, instance=instance)
        with ZoneClient(target, token=TOKENS["researcher"]) as researcher:
            assert researcher.list_products()
            policy = tmp_path / "policies" / "demo.yaml"
            text = policy.read_text()
            start, end = text.index("  - principal: city-research"), text.index("dataset_caps:")
            policy.write_text(text[:start] + text[end:])
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while researcher.list_products() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert researcher.list_products() == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    verify = zone_cli("audit", "verify", "--config", str(config))
    assert verify.returncode == 0, verify.stderr
    conn = sqlite3.connect(tmp_path / "state.sqlite")
    try:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM audit_log ORDER BY seq")]
    finally:
        conn.close()
    assert kinds[0] == "server.start" and kinds[-1] == "server.stop"
    assert "policy.reload" in kinds


def test_audit_verify_exits_1_on_a_deleted_record(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path)
    from zonekit import running_zone

    with (
        running_zone(config) as zone,
        ZoneClient(f"127.0.0.1:{zone.port}", token=TOKENS["bank"]) as c,
    ):
        for _ in range(5):
            c.list_datasets()
    assert zone_cli("audit", "verify", "--config", str(config)).returncode == 0
    conn = sqlite3.connect(tmp_path / "state.sqlite")
    try:
        conn.execute("DROP TRIGGER audit_log_no_delete")  # an attacker with file access
        conn.execute("DELETE FROM audit_log WHERE seq = 3")
        conn.commit()
    finally:
        conn.close()
    result = zone_cli("audit", "verify", "--config", str(config))
    assert result.returncode == 1
    assert "BROKEN at record 3: sequence gap" in result.stderr


def test_policy_reload_command(tmp_path: Path) -> None:
    from zonekit import running_zone

    config = make_zone_dir(tmp_path)
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKENS["admin"] + "\n")
    with running_zone(config) as zone:
        target = f"127.0.0.1:{zone.port}"
        ok = zone_cli("policy", "reload", "--target", target, "--token-file", str(token_file))
        assert ok.returncode == 0, ok.stderr
        assert zone.services.serving.current.digest in ok.stdout
        (tmp_path / "policies" / "bad.yaml").write_text("principals: [1]\n")
        refused = zone_cli("policy", "reload", "--target", target, "--token-file", str(token_file))
        assert refused.returncode == 1
        assert "FAILED_PRECONDITION" in refused.stderr
        assert refused.stderr.count("policies/bad.yaml:1") == 1  # printed once, not twice
        token_file.write_text(TOKENS["bank"])
        denied = zone_cli("policy", "reload", "--target", target, "--token-file", str(token_file))
        assert denied.returncode == 1 and "PERMISSION_DENIED" in denied.stderr


def test_stats_estimate_and_query_commands(tmp_path: Path) -> None:
    from zonekit import add_principal, running_zone

    config = make_zone_dir(tmp_path)
    token_file = tmp_path / "analyst.token"
    token_file.write_text(add_principal(config, "analyst", epsilon=2.0))
    common = ["--token-file", str(token_file), "--product", "enterprise-stats",
              "--measure", "count", "--group-by", "industry", "--filter", "founded_year>=2010",
              "--epsilon", "0.5"]  # fmt: skip
    with running_zone(config) as zone:
        target = ["--target", f"127.0.0.1:{zone.port}"]
        estimate = zone_cli("stats", "estimate", *target, *common)
        assert estimate.returncode == 0, estimate.stderr
        assert "remaining epsilon 2" in estimate.stdout
        out = tmp_path / "release.csv"
        query = zone_cli("stats", "query", *target, *common, "--csv", str(out))
        assert query.returncode == 0, query.stderr
        assert "remaining 1.5" in query.stdout
        assert len(out.read_text().splitlines()) == 1 + 20  # header + one row per industry
        refused = zone_cli("stats", "query", *target, *common[:-1], "3.0")
        assert refused.returncode == 1 and "PERMISSION_DENIED" in refused.stderr
        assert zone_cli("stats", "query", *target, *common[:-1], "1.0").returncode == 0
        short = zone_cli("stats", "query", *target, *common[:-1], "1.0")
        assert short.returncode == 1
        assert (
            "RESOURCE_EXHAUSTED: your privacy budget for dataset 'enterprises' cannot cover "
            "this request: epsilon is short by 0.5 (requested 1, remaining 0.5)" in short.stderr
        )
        assert "remaining epsilon 0.5 (delta 1e-06)" in short.stderr  # the QuotaFailure detail


def serve_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``zone serve`` expected to refuse at once (it would otherwise run until stopped)."""
    return zone_cli("serve", *args, timeout=timeout)


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=200)
    with socket.socket() as other:  # another program (another zone, say) holds the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = serve_cli("--config", str(config), "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the address is already in use (another "
        "program, perhaps another zone); stop that program or choose --listen HOST:PORT"
    ]


def test_serve_with_a_taken_console_port_says_so_and_exits(tmp_path: Path) -> None:
    # Two replicas on one machine with the same zone.yaml (docs/DEPLOY.md) share console.listen.
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        config = make_zone_dir(tmp_path, rows=200,
                               extra_config=f"console:\n  listen: 127.0.0.1:{port}\n")  # fmt: skip
        result = zone_cli("--log-level", "ERROR", "serve", "--config", str(config), "--listen",
                          "127.0.0.1:0", timeout=120)  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{port} (console.listen): the address is already in "
        "use (another program, perhaps another zone's console); stop that program or set "
        "another console.listen in the config"
    )


def test_serve_refuses_plaintext_beyond_loopback(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=200)
    result = serve_cli("--config", str(config), "--listen", "0.0.0.0:0")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: refusing to listen on 0.0.0.0:0 without TLS")
    assert "--insecure-plaintext" in line


def test_serve_with_insecure_plaintext_starts_and_warns(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=200)
    proc = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "serve", "--config", str(config),
         "--listen", "0.0.0.0:0", "--insecure-plaintext"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        assert line.startswith("zone: serving on 0.0.0.0:"), line
        port = line.rsplit(":", 1)[1].strip()
        instance = proc.stdout.readline().split()[-1]
        wait_until_serving(f"127.0.0.1:{port}", timeout=30, instance=instance)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "WITHOUT TLS (--insecure-plaintext)" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            assert stream is not None
            stream.close()


@pytest.mark.timeout(60)
def test_policy_check_refuses_a_yaml_bomb_with_file_and_line(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=200)
    bomb = tmp_path / "policies" / "zz_bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    bomb.write_text("\n".join(lines) + "\n")  # 10^7 values once expanded
    result = zone_cli("policy", "check", "--config", str(config))
    assert result.returncode == 1
    assert "policies/zz_bomb.yaml:6: more than 250,000 values (aliases expanded)" in result.stderr
    bomb.write_text("principals: " + "[" * 5000 + "]" * 5000 + "\n")
    result = zone_cli("policy", "check", "--config", str(config))
    assert result.returncode == 1
    assert "policies/zz_bomb.yaml:1: nested deeper than 64 levels" in result.stderr
    assert "Traceback" not in result.stderr


def test_files_the_zone_creates_are_private(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=200)
    text = config.read_text().replace("datasets_db: datasets.duckdb", "datasets_db: var/d.duckdb")
    config.write_text(text.replace("state_db: state.sqlite", "state_db: var/state/s.sqlite"))
    result = zone_cli(
        "datasets", "import", str(tmp_path / "zone" / "enterprises.csv"), "--name", "enterprises",
        "--meta", str(EXAMPLES / "enterprises.meta.yaml"), "--config", str(config),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    var = tmp_path / "zone" / "var"
    made = list(var.rglob("*"))
    assert {p.name for p in made} >= {"d.duckdb", "state", "s.sqlite"}  # the WALs are gone
    for path in (var, *made):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


@pytest.mark.slow
def test_jobs_train_wait_prints_the_released_model(tmp_path: Path) -> None:
    from zonekit import add_principal, running_zone

    config = make_zone_dir(tmp_path, rows=2000)
    product = "enterprise-default-lr"
    token_file = tmp_path / "trainer.token"
    token_file.write_text(add_principal(config, "trainer", products=(product,), epsilon=2.0))
    with running_zone(config) as zone:
        result = zone_cli(
            "jobs", "train", "--target", f"127.0.0.1:{zone.port}", "--token-file",
            str(token_file), "--product", product, "--epsilon", "1", "--delta", "1e-6",
            "--epochs", "1", "--wait", timeout=300,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "SUCCEEDED" in result.stdout
    model = json.loads(result.stdout[result.stdout.index("{") :])
    assert model["family"] == "logistic_regression"
    assert len(model["weights"]) == len(model["features"]) == 7
    assert model["release_id"] and "accuracy" in model["metrics"]


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    # `zone admin audit ... | head`: the pipe closes before the command has printed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "schema", "config"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before the command's imports are done: its first write fails
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in err and "BrokenPipe" not in err
