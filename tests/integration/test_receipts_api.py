"""Receipts and tracing end to end: real server, real DP statistics releases, signed checkpoints.

A principal makes many releases of the same query; a checkpoint is signed with ``zone audit
checkpoint``; the caller fetches and verifies its receipts (SDK and ``zone receipt``); a CSV of
one release, as ``zone stats query --csv`` writes it, is rounded, has its columns shuffled and is
traced back with ``zone trace``.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from zonekit import TOKENS, add_principal, client, make_zone_dir, running_zone, target

from zone.audit.keys import generate_key, load_public_key
from zone.cli import main
from zone.client import NotFoundError, ZoneClient
from zone.client.receipts import verify_bundle
from zone.client.stats import StatisticsRelease, count
from zone.server.app import RunningZone

PRODUCT = "enterprise-stats"
RELEASES = 22


@dataclass
class Setup:
    zone: RunningZone
    config: Path
    token_file: Path
    releases: list[StatisticsRelease]


def _query(analyst: ZoneClient) -> StatisticsRelease:
    return analyst.query_statistics(PRODUCT, [count()], epsilon=0.5, group_by=["district"])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("receipts")
    generate_key(root / "zone.key")
    config = make_zone_dir(root / "zone", extra_config="audit: {signing_key: ../zone.key}\n")
    token = add_principal(config, "analyst", epsilon=100.0)
    token_file = root / "analyst.token"
    token_file.write_text(token)
    with running_zone(config) as zone:
        with ZoneClient(target(zone), token=token) as analyst:
            releases = [_query(analyst) for _ in range(RELEASES)]
        yield Setup(zone, config, token_file, releases)


def _cli(*args: str) -> int:
    return main(list(args))


def test_receipt_is_unproven_until_checkpoint_then_verifies(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    with ZoneClient(target(setup.zone), token=setup.token_file.read_text()) as analyst:
        first = _query(analyst)  # newer than any checkpoint
        bundle = analyst.get_receipt(first.release_id)
        assert bundle.proof is None and "newer than the latest" in verify_bundle(bundle)
        out = setup.config.parent / "cp.json"
        assert _cli("audit", "checkpoint", "--config", str(setup.config), "--out", str(out)) == 0
        bundle = analyst.get_receipt(first.release_id)
    public = load_public_key(setup.config.parent.parent / "zone.key.pub")
    assert verify_bundle(bundle, trusted=public) == ""
    r = bundle.receipt
    assert (r["release_id"], r["principal"], r["product"]) == (first.release_id, "analyst", PRODUCT)
    assert r["output_digest"] == first.output_digest
    assert r["dataset_version"] == first.dataset_version
    assert (r["epsilon_micro"], r["delta_femto"]) == (500_000, 0)
    assert r["policy_digest"].startswith("sha256:") and r["code_version"] and r["time"]
    assert bundle.checkpoint is not None and bundle.checkpoint.length >= bundle.entry.seq
    capsys.readouterr()


def test_receipt_cli_get_and_verify(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    root = setup.config.parent
    cp = root / "cp2.json"
    assert _cli("audit", "checkpoint", "--config", str(setup.config), "--out", str(cp)) == 0
    release_id = setup.releases[5].release_id
    receipt = root / "receipt.json"
    common = ("--target", target(setup.zone), "--token-file", str(setup.token_file))
    assert _cli("receipt", "get", release_id, *common, "--out", str(receipt)) == 0
    pub = str(root.parent / "zone.key.pub")
    args = ("--checkpoint", str(cp), "--public-key", pub)
    assert _cli("receipt", "verify", str(receipt), *args) == 0
    assert f"release {release_id} (analyst" in capsys.readouterr().out
    assert _cli("receipt", "verify", str(receipt)) == 1  # unpinned: refused by default
    assert "NOT pinned" in capsys.readouterr().err
    assert _cli("receipt", "verify", str(receipt), "--allow-unpinned") == 0  # still says so
    assert "NOT pinned" in capsys.readouterr().out

    # A second epsilon_micro that a first-key-wins reader would take: refused, not ignored.
    text = receipt.read_text()
    assert text.count('"epsilon_micro":') == 1
    repeated = root / "repeated.json"
    repeated.write_text(text.replace('"epsilon_micro":', '"epsilon_micro": 1, "epsilon_micro":'))
    assert _cli("receipt", "verify", str(repeated), *args) == 1
    assert "repeats the key 'epsilon_micro'" in capsys.readouterr().err

    doc = json.loads(receipt.read_text())
    doc["receipt"]["epsilon_micro"] = 1
    forged = root / "forged.json"
    forged.write_text(json.dumps(doc))
    assert _cli("receipt", "verify", str(forged), *args) == 1
    assert "differs from the record" in capsys.readouterr().err

    other = root / "other.key"
    generate_key(other)
    assert _cli("receipt", "verify", str(receipt), "--public-key", f"{other}.pub") == 1
    assert "another key" in capsys.readouterr().err
    assert _cli("audit", "verify", "--config", str(setup.config), "--checkpoint", str(cp)) == 0


def test_receipts_are_private_to_their_principal(setup: Setup) -> None:
    release_id = setup.releases[1].release_id
    with client(setup.zone, "researcher") as researcher:
        with pytest.raises(NotFoundError) as theirs:
            researcher.get_receipt(release_id)
        with pytest.raises(NotFoundError) as unknown:
            researcher.get_receipt("0" * 32)
    assert theirs.value.message == unknown.value.message
    with client(setup.zone, "admin") as admin:
        assert admin.get_receipt(release_id).receipt["principal"] == "analyst"
    with ZoneClient(target(setup.zone), token=TOKENS["bank"]) as bank:
        with pytest.raises(NotFoundError):
            bank.get_receipt(release_id)


def _perturb(csv_text: str, seed: int) -> str:
    """Round every value to 3 significant digits and shuffle the column order."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    order = [2, 0, 1]
    random.Random(seed).shuffle(order)
    out = io.StringIO()
    writer = csv.writer(out)
    for i, row in enumerate(rows):
        if i:
            row[2] = " ".join(f"{float(v):.3g}" for v in row[2].split())
        writer.writerow([row[j] for j in order])
    return out.getvalue()


def test_a_leaked_statistics_csv_is_traced_to_its_release(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    root = setup.config.parent
    leaked = root / "leaked.csv"
    assert _cli(
        "stats", "query", "--target", target(setup.zone), "--token-file", str(setup.token_file),
        "--product", PRODUCT, "--measure", "count", "--group-by", "district",
        "--epsilon", "0.5", "--csv", str(leaked),
    ) == 0  # fmt: skip
    release_id = capsys.readouterr().out.split("release ")[1].split(":")[0]
    leaked.write_text(_perturb(leaked.read_text(), seed=3))
    assert _cli("trace", str(leaked), "--config", str(setup.config)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"match: release {release_id} to analyst")
    assert "keyed comparison of 16 numbers" in out

    # Another leak: one of the earlier releases, rebuilt from the SDK's result.
    source = setup.releases[9]
    rows = [["measure", "group", "values"]] + [
        ["count()", "/".join(key), " ".join(f"{v:.6g}" for v in values)]
        for key, values in source.results[0].cells.items()
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    leaked.write_text(_perturb(buffer.getvalue(), seed=4))
    assert _cli("trace", str(leaked), "--config", str(setup.config), "--top", "3") == 0
    assert f"match: release {source.release_id} to analyst" in capsys.readouterr().out


def test_an_unreleased_statistics_csv_is_no_confident_match(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(8)
    cells = setup.releases[0].results[0].cells
    rows = ["measure,group,values"] + [
        f"count(),{'/'.join(key)},{round(values[0] + rng.choice([-1, 1]) * rng.randint(2, 6))}"
        for key, values in cells.items()
    ]
    leaked = setup.config.parent / "unrelated.csv"
    leaked.write_text("\n".join(rows) + "\n")
    assert _cli("trace", str(leaked), "--config", str(setup.config)) == 1
    assert capsys.readouterr().out.startswith("no confident match")
