"""``zone consent register|revoke|list`` end to end against a real zone.

The commands go through ConsentService with the operator's token (as the SDK does): a
registered consent admits a Match subject and shows its use in the listing, a revoked one is
refused per subject, every registration and revocation is on the audit chain, operators see
and revoke only their own records, and bad input exits 1 with the zone's message, changing
nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from zonekit import TOKENS, add_principal, client, demo_rows, make_zone_dir, running_zone, target

from zone.cli import main
from zone.client import ZoneClient
from zone.server.app import RunningZone

PRODUCT = "capital-match"
PURPOSE = "loan application"


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, str]]:
    config = make_zone_dir(tmp_path_factory.mktemp("consent-cli"))
    other = add_principal(config, "bank-b", products=(PRODUCT,))
    with running_zone(config) as running:
        yield running, other


def connection(running: RunningZone, tmp_path: Path, token: str) -> list[str]:
    path = tmp_path / f"token-{hashlib.sha256(token.encode()).hexdigest()[:8]}"
    path.write_text(token)
    return ["--target", target(running), "--token-file", str(path)]


def a_subject(running: RunningZone, n: int) -> str:
    return demo_rows(running)[n]["uscc"]


def audited(running: RunningZone, kind: str) -> list[dict[str, object]]:
    with running.services.store.read() as tx:
        rows = tx.execute("SELECT record FROM audit_log WHERE kind = ? ORDER BY seq", (kind,))
        return [json.loads(text) for (text,) in rows]


def consents_in_state(running: RunningZone) -> int:
    with running.services.store.read() as tx:
        return int(tx.execute("SELECT count(*) FROM consents").fetchone()[0])


def test_register_list_use_and_revoke_from_the_command_line(
    zone: tuple[RunningZone, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, _ = zone
    bank = connection(running, tmp_path, TOKENS["bank"])
    subject = a_subject(running, 3)
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(b"%PDF signed authorization letter")
    assert main(["consent", "register", "--product", PRODUCT, "--subject", subject,
                 "--purpose", PURPOSE, "--not-after", "2099-01-01T00:00:00",
                 "--max-uses", "2", "--letter", str(letter), *bank]) == 0  # fmt: skip
    out = capsys.readouterr().out
    consent = out.split()[1]
    assert out.startswith(f"registered {consent}") and "0/2" in out and "in force" in out
    [entry] = [a for a in audited(running, "consent.register") if a["consent"] == consent]
    assert entry["letter_sha256"] == hashlib.sha256(letter.read_bytes()).hexdigest()

    caller = ZoneClient(target(running), token=TOKENS["bank"], timeout=30)
    report = caller.match(PRODUCT, [subject], {"employees": [1]}, purpose=PURPOSE,
                          consents=[consent])  # fmt: skip
    assert report.statuses != ["CONSENT_REFUSED"]

    assert main(["consent", "list", "--subject", subject, *bank]) == 0
    listed = capsys.readouterr().out
    assert consent in listed and "1/2" in listed
    assert main(["consent", "list", "--product", "no-such-product", *bank]) == 0
    assert consent not in capsys.readouterr().out

    assert main(["consent", "revoke", consent, "--reason", "withdrawn", *bank]) == 0
    assert "revoked" in capsys.readouterr().out
    assert [a["revoke_reason"] for a in audited(running, "consent.revoke")
            if a["consent"] == consent] == ["withdrawn"]  # fmt: skip
    refused = caller.match(PRODUCT, [subject], {"employees": [1]}, purpose=PURPOSE,
                           consents=[consent])  # fmt: skip
    assert refused.statuses == ["CONSENT_REFUSED"]
    assert main(["consent", "list", *bank]) == 0
    assert "revoked" in capsys.readouterr().out


def test_operators_see_and_revoke_only_their_own(
    zone: tuple[RunningZone, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, other_token = zone
    mine = client(running, "bank").register_consent(
        PRODUCT, a_subject(running, 4), purpose=PURPOSE, letter_sha256="ab" * 32,
        not_after=datetime(2099, 1, 1, tzinfo=UTC),
    ).consent  # fmt: skip
    theirs = connection(running, tmp_path, other_token)
    assert main(["consent", "list", *theirs]) == 0
    assert mine not in capsys.readouterr().out
    assert main(["consent", "revoke", mine, *theirs]) == 1
    assert "no such consent" in capsys.readouterr().err
    assert client(running, "bank").describe_consent(mine).revoked_at is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"--letter-sha256": "not-a-digest"}, "letter_sha256"),
        ({"--product": "enterprise-stats"}, "is a statistics product"),
        ({"--max-uses": "0"}, "max_uses"),
        ({"--not-after": "2001-01-01T00:00:00"}, "in the past"),
    ],
)
def test_bad_registrations_exit_1_with_the_zones_message_and_write_nothing(
    zone: tuple[RunningZone, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, str],
    message: str,
) -> None:
    running, _ = zone
    fields = {"--product": PRODUCT, "--subject": a_subject(running, 5), "--purpose": PURPOSE,
              "--not-after": "2099-01-01T00:00:00Z", "--letter-sha256": "cd" * 32}  # fmt: skip
    fields.update(changes)
    before = consents_in_state(running)
    argv = ["consent", "register", *[x for kv in fields.items() for x in kv]]
    assert main([*argv, *connection(running, tmp_path, TOKENS["bank"])]) == 1
    assert message in capsys.readouterr().err
    assert consents_in_state(running) == before


def test_an_unparsable_time_is_a_usage_error(
    zone: tuple[RunningZone, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, _ = zone
    with pytest.raises(SystemExit) as exit_:
        main(["consent", "register", "--product", PRODUCT, "--subject", "S", "--purpose", "p",
              "--not-after", "next tuesday", "--letter-sha256", "cd" * 32,
              *connection(running, tmp_path, TOKENS["bank"])])  # fmt: skip
    assert exit_.value.code == 2 and "not an ISO 8601 time" in capsys.readouterr().err
