"""``zone verify match --subject-column``: a CSV whose subject keys are in another column."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from zonekit import TOKENS, client, make_zone_dir, running_zone, target

from zone.cli import main


def test_match_reads_subjects_from_the_named_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=300)
    with (tmp_path / "zone" / "enterprises.csv").open(newline="") as handle:
        record = next(csv.DictReader(handle))
    claims = tmp_path / "claims.csv"
    claims.write_text(
        f"id,registered_capital,employees\n"
        f"{record['uscc']},{record['registered_capital']},{record['employees']}\n"
    )
    token, out = tmp_path / "token", tmp_path / "out.csv"
    token.write_text(TOKENS["bank"])
    consents = tmp_path / "consents.csv"
    args = ["--product", "capital-match", "--csv", str(claims), "--out", str(out),
            "--purpose", "loan application", "--consents", str(consents)]  # fmt: skip
    with running_zone(config) as zone:
        until = datetime.now(UTC) + timedelta(hours=1)
        consent = client(zone, "bank").register_consent(
            "capital-match", record["uscc"], purpose="loan application", not_after=until,
            letter_sha256="ab" * 32,
        ).consent  # fmt: skip
        consents.write_text(f"subject,consent\n{record['uscc']},{consent}\n")
        connection = ["--target", target(zone), "--token-file", str(token)]
        capsys.readouterr()
        assert main(["verify", "match", *args, *connection]) == 1  # looks for 'subject'
        assert "needs a 'subject' column (--subject-column)" in capsys.readouterr().err
        assert main(["verify", "match", *args, "--subject-column", "id", *connection]) == 0
    with out.open(newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["subject"], row["status"]) == (record["uscc"], "MATCH")
