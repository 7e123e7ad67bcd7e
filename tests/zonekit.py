"""Shared helpers for tests: build a zone folder with real data, start a real server on port 0."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zone.catalog import import_dataset, load_metadata
from zone.client import ZoneClient
from zone.config import ZoneConfig, load_config
from zone.server.app import RunningZone, start

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def demo_tokens() -> dict[str, str]:
    """The DEMO ONLY tokens, keyed bank / researcher / admin / expired."""
    tokens = {}
    for line in (EXAMPLES / "demo_tokens.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            tokens[key.removeprefix("ZONE_DEMO_").removesuffix("_TOKEN").lower()] = value
    return tokens


TOKENS = demo_tokens()


def generate_csv(path: Path, rows: int = 2000, seed: int = 7) -> Path:
    """Write the synthetic enterprise registry with the demo generator."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import generate_enterprises
    finally:
        sys.path.remove(str(EXAMPLES))
    generate_enterprises.main(["--rows", str(rows), "--seed", str(seed), "--out", str(path)])
    return path


def make_zone_dir(
    root: Path,
    rows: int = 2000,
    extra_config: str = "",
    warm_workers: int = 0,
    state_db: str = "state.sqlite",
) -> Path:
    """A complete zone folder: imported dataset, demo models and policies, config on port 0.

    ``warm_workers`` (training workers started in advance) is 0 unless asked for: most test
    zones never train, and a warm worker spends seconds of a core importing torch. It is left
    to the zone's default when ``extra_config`` has its own ``jobs:`` section. ``state_db`` is
    a file name in ``root`` or a PostgreSQL URL (replicas share one).
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "models", root / "models")
    shutil.copytree(REPO / "policies", root / "policies")
    csv = generate_csv(root / "enterprises.csv", rows)
    meta = load_metadata(EXAMPLES / "enterprises.meta.yaml")
    import_dataset(root / "datasets.duckdb", csv, "enterprises", meta)
    config = root / "zone.yaml"
    config.write_text(
        "listen: 127.0.0.1:0\n"
        "datasets_db: datasets.duckdb\n"
        f"state_db: {state_db}\n"
        "models_dir: models\n"
        "policies_dir: policies\n"
        "row_count_granularity: 100\n"
        "shutdown_grace_seconds: 1\n"
        + ("" if "jobs:" in extra_config else f"jobs:\n  warm_workers: {warm_workers}\n")
        + extra_config
    )
    return config


@contextmanager
def running_zone(config_path: Path) -> Iterator[RunningZone]:
    """Start a real server from a config file and stop it afterwards."""
    zone = start(load_config(config_path))
    try:
        yield zone
    finally:
        zone.stop(grace=0.5)


def target(zone: RunningZone) -> str:
    """The loopback address of a running zone."""
    return f"127.0.0.1:{zone.port}"


def client(zone: RunningZone, who: str | None) -> ZoneClient:
    """A client for a demo principal (bank, researcher, admin, expired) or none."""
    return ZoneClient(target(zone), token=TOKENS[who] if who else None, timeout=10)


def demo_rows(zone: RunningZone) -> list[dict[str, str]]:
    """The rows of the registry ``make_zone_dir`` generated and ``zone`` serves, in file order."""
    with (Path(zone.services.config.datasets_db).parent / "enterprises.csv").open() as handle:
        return list(csv.DictReader(handle))


def config_of(zone: RunningZone) -> ZoneConfig:
    """The config a running zone was started with."""
    return zone.services.config


def add_principal(
    config_path: Path,
    principal: str,
    *,
    products: tuple[str, ...] = ("enterprise-stats",),
    epsilon: float = 1.0,
    delta: float = 1e-6,
    per_job_epsilon: float | None = None,
    role: str = "operator",
) -> str:
    """Write a policy file granting ``principal`` a budget on enterprises; return its token."""
    import hashlib
    import secrets

    token = secrets.token_urlsafe(24)
    digest = hashlib.sha256(token.encode()).hexdigest()
    cap = f"    per_job_epsilon: {per_job_epsilon}\n" if per_job_epsilon else ""
    (config_path.parent / "policies" / f"{principal}.yaml").write_text(
        "principals:\n"
        f"  - id: {principal}\n"
        f"    role: {role}\n"
        "    organisation: test\n"
        f"    token_sha256: {digest}\n"
        "grants:\n"
        f"  - principal: {principal}\n"
        f"    products: [{', '.join(products)}]\n"
        f"    budget: {{enterprises: {{epsilon: {epsilon:.6e}, delta: {delta:.6e}}}}}\n"
        f"{cap}"
        "    purpose: testing\n"
    )
    return token


def serve_process(config_path: Path) -> tuple[subprocess.Popen[str], str]:
    """``zone serve`` in a child process on a free loopback port: (process, address).

    The caller stops it (SIGTERM or SIGKILL), waits for it and closes its stdout.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "zone.cli", "--log-level", "WARNING", "serve",
         "--config", str(config_path), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("zone: serving on"), line
    return proc, line.split()[-1]


def bulk_consents(
    zone: RunningZone,
    principal: str,
    product: str,
    subjects: list[str],
    purpose: str,
    *,
    max_uses: int = 100,
) -> list[str]:
    """Consent ids for many subjects at once, written straight into the zone's state.

    Test set-up for calls with thousands of subjects (one RegisterConsent call each would be
    a durable audited transaction each); the consent rules are zone.consent's either way.
    """
    from datetime import UTC, datetime, timedelta

    from zone.consent import register

    now = datetime.now(UTC)
    with zone.services.store.write() as tx:
        return [
            register(
                tx, principal=principal, product=product, subject=subject, purpose=purpose,
                not_before=now - timedelta(minutes=1), not_after=now + timedelta(days=1),
                max_uses=max_uses, letter_sha256="ab" * 32, now=now,
            ).consent_id
            for subject in subjects
        ]  # fmt: skip
