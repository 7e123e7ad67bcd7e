"""``zone verify``: keys made and registered from the command line, Match and Score from CSV,
with each subject's consent from a CSV."""

from __future__ import annotations

import csv
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from zonekit import TOKENS, client, demo_rows, make_zone_dir, running_zone, target

from zone.cli import main
from zone.client.he import HEKeys
from zone.server.app import RunningZone


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningZone]:
    with running_zone(make_zone_dir(tmp_path_factory.mktemp("verify-cli"))) as running:
        yield running


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def logged_checks(zone: RunningZone) -> int:
    with zone.services.store.read() as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM verification_checks").fetchone()[0]
    return count


def consents_csv(zone: RunningZone, path: Path, subjects: list[str], purpose: str) -> Path:
    """A CSV subject,consent of consents bank-a registered for ``purpose``."""
    bank = client(zone, "bank")
    until = datetime.now(UTC) + timedelta(hours=1)
    rows: list[list[object]] = [
        [s, bank.register_consent("capital-match", s, purpose=purpose, not_after=until,
                                  letter_sha256="ef" * 32).consent]
        for s in subjects
    ]  # fmt: skip
    return write_csv(path, ["subject", "consent"], rows)


def test_keys_match_score_and_revoke_from_the_command_line(
    zone: RunningZone, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text(TOKENS["bank"])
    connection = ["--target", target(zone), "--token-file", str(token)]
    records = demo_rows(zone)[:2]
    subjects = [records[0]["uscc"], records[1]["uscc"], "91000000000000000X"]

    ckks = tmp_path / "ckks.keys"
    assert main(["verify", "keys", "new", "--out", str(ckks)]) == 0
    assert stat.S_IMODE(ckks.stat().st_mode) == 0o600  # the secret key stays private
    assert main(["verify", "keys", "register", str(ckks), *connection]) == 0
    assert HEKeys.load(ckks).key_id

    wrong_capital = float(records[1]["registered_capital"]) + 1.0
    claims = write_csv(
        tmp_path / "claims.csv",
        ["subject", "registered_capital", "employees"],
        [
            [records[0]["uscc"], records[0]["registered_capital"], records[0]["employees"]],
            [records[1]["uscc"], wrong_capital, int(records[1]["employees"]) + 2],
            ["91000000000000000X", 1.0, 1],
        ],
    )
    consents = consents_csv(zone, tmp_path / "consents.csv", subjects, "loan application")
    out = tmp_path / "matched.csv"
    args = ["--product", "capital-match", "--csv", str(claims), "--out", str(out),
            "--purpose", "loan application"]  # fmt: skip
    assert main(["verify", "match", *args, "--consents", str(consents), *connection]) == 0
    assert [(r["status"], r["registered_capital"], r["employees"]) for r in read_csv(out)] == [
        ("MATCH", "true", "true"),
        ("NO_MATCH", "false", "true"),  # employees is within its tolerance of 2
        ("NOT_FOUND", "", ""),
    ]
    assert main(["verify", "match", *args, *connection]) == 0  # no consents: refused per subject
    assert {(r["status"], r["consent_refusal"]) for r in read_csv(out)} == {
        ("CONSENT_REFUSED", "no_consent")
    }

    features = write_csv(
        tmp_path / "features.csv",
        ["subject", "loan_amount", "days_overdue"],
        [[records[0]["uscc"], 2500, 12], ["91000000000000000X", 1000, 0]],
    )
    scored = tmp_path / "scored.csv"
    consents = consents_csv(zone, tmp_path / "scoring.csv", subjects[::2], "credit decision")
    args = ["--product", "capital-match", "--csv", str(features), "--out", str(scored),
            "--purpose", "credit decision", "--consents", str(consents)]  # fmt: skip
    assert main(["verify", "score", "--keys", str(ckks), *args, *connection]) == 0
    first, unknown = read_csv(scored)
    assert first["status"] == "SCORED" and 0.0 < float(first["value"]) < 1.0
    assert unknown["status"] == "NOT_FOUND" and unknown["value"] == ""

    assert main(["verify", "keys", "revoke", str(ckks), *connection]) == 0
    capsys.readouterr()
    assert main(["verify", "score", "--keys", str(ckks), *args, *connection]) == 1
    assert "revoked" in capsys.readouterr().err


def test_a_malformed_csv_is_refused_before_anything_is_sent(
    zone: RunningZone, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = logged_checks(zone)
    consents = write_csv(tmp_path / "c.csv", ["subject", "consent"], [["y", "c-1"]])
    for header, row, extra in (
        (["who", "registered_capital"], ["x", 1], []),
        (["subject", "registered_capital"], ["x", "lots"], []),
        (["subject", "registered_capital"], ["x", 1], ["--consents", str(consents)]),
    ):  # fmt: skip
        bad = write_csv(tmp_path / "bad.csv", header, [row])
        code = main(["verify", "match", "--product", "capital-match", "--csv", str(bad),
                     "--out", str(tmp_path / "o.csv"), "--purpose", "p",
                     "--target", target(zone), *extra])  # fmt: skip
        assert code == 1
    err = capsys.readouterr().err
    assert "subject" in err and "not a number" in err and "no consent for 1 subject" in err
    assert logged_checks(zone) == checks
