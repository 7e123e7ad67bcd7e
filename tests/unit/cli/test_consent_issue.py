"""``zone consent keygen|issue``: a consent authority's key and the tokens it signs, offline."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from zone.cli import main
from zone.client.consent_calls import read_tokens
from zone.consent import decode_authority_key
from zone.consent.tokens import parse_token, verify_token


def keygen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    tmp_path.mkdir(exist_ok=True)
    key = tmp_path / "authority.pem"
    assert main(["consent", "keygen", "--out", str(key)]) == 0
    out = capsys.readouterr().out
    public = out.rsplit(": ", 1)[1].strip()  # the line for consent_authorities
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    return key, public


def issue(key: Path, *extra: str) -> int:
    return main(["consent", "issue", "--key", str(key), "--issuer", "gov-consent",
                 "--principal", "bank-a", "--product", "capital-match", "--purpose", "loans",
                 "--not-after", "2027-06-30T00:00:00+00:00", *extra])  # fmt: skip


def test_an_issued_token_verifies_under_the_printed_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, public = keygen(tmp_path, capsys)
    assert issue(key, "--subject", "91110000X", "--id", "c-1", "--max-uses", "3") == 0
    token = parse_token(capsys.readouterr().out.strip())
    authorities = {"gov-consent": decode_authority_key(public)}
    assert verify_token(token, authorities) == "ok"
    assert token.label == "gov-consent/c-1"
    terms = token.terms
    assert (terms.principal, terms.product, terms.subject, terms.purpose, terms.max_uses) == (
        "bank-a", "capital-match", "91110000X", "loans", 3
    )  # fmt: skip
    assert terms.not_after == int(datetime(2027, 6, 30, tzinfo=UTC).timestamp())
    other = {"gov-consent": decode_authority_key(keygen(tmp_path / "b", capsys)[1])}
    assert verify_token(token, other) == "bad_signature"


def test_tokens_appended_to_a_file_are_read_by_subject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = keygen(tmp_path, capsys)
    out = tmp_path / "tokens.txt"
    for subject in ("S-1", "S-2"):
        assert issue(key, "--subject", subject, "--out", str(out)) == 0
    tokens = read_tokens(out)
    assert set(tokens) == {"S-1", "S-2"}
    ids = {parse_token(t).consent_id for t in tokens.values()}
    assert len(ids) == 2  # random ids, one per consent


def test_bad_terms_or_keys_are_refused_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = keygen(tmp_path, capsys)
    assert issue(key, "--subject", "S-1", "--max-uses", "0") == 1
    assert "cannot issue consent token" in capsys.readouterr().err
    not_a_key = tmp_path / "junk.pem"
    not_a_key.write_text("not a key")
    assert issue(not_a_key, "--subject", "S-1") == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["consent", "keygen", "--out", str(key)]) == 1  # never overwrites a key
