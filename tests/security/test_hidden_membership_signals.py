"""Hidden membership: nothing a caller receives tells a registered subject from an unknown key.

Attacker: a grant holder on a ``membership: hidden`` product who wants to know whether keys
are in the registry. It cannot match (it does not know the values), so it looks at everything
else the zone returns for a known subject with a wrong claim, a known subject whose recorded
value is not a whole number of the claim's units (``recorded_codes`` reads it like a NULL:
nothing to match; the demo registry has no NULL), and a key that is not in the dataset: the
statuses, the reply's size and layout (E, then 2t + 1 tags), the consent refusal field, the
receipt it fetches (``GetReceipt``: every field but ids, digests and times), and what happens
when the window is used up (the 4th call is refused: code and message).

Measured (run with ``-s``): over 25 subjects of each kind, one call each, every one of those
signals is identical across the three kinds (0 fields differ); the evaluated element is a
valid group element for all of them and the 3 tags are distinct; after 3 checks each kind is
refused with the same code and message.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from zonekit import add_principal, make_zone_dir, running_zone, target

from zone._proto import verification_pb2, verification_pb2_grpc
from zone.client import ZoneClient
from zone.server.app import RunningZone
from zone.wire.oprf import ELEMENT_BYTES, TAG_BYTES, blind, claim_input, element_problem

PRODUCT = "capital-hidden"
FIELD = "registered_capital"
TOLERANCE = 1
HIDDEN = f"""id: {PRODUCT}
kind: verification
dataset: enterprises
description: checks that do not tell who is registered (attack tests)
key: uscc
claims: {{{FIELD}: {{tolerance: {TOLERANCE}, unit: 1.0}}}}
limits: {{checks_per_subject: 3, window_hours: 24, max_subjects_per_call: 1000}}
membership: hidden
consent: none
"""
PER_KIND = 25
VARYING = {"release_id", "request_id", "output_digest", "subjects_digest", "time", "issued_at"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, str, dict]]:
    config = make_zone_dir(tmp_path_factory.mktemp("hidden"), rows=3000)
    (config.parent / "models" / f"{PRODUCT}.yaml").write_text(HIDDEN)
    token = add_principal(config, "prober", products=(PRODUCT,))
    with (config.parent / "enterprises.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    kinds = {
        "known": [r["uscc"] for r in rows if float(r[FIELD]).is_integer()][:PER_KIND],
        "no whole value": [r["uscc"] for r in rows if not float(r[FIELD]).is_integer()][:PER_KIND],
        "unknown": [rows[i]["uscc"][:-4] + secrets.token_hex(2).upper() for i in range(PER_KIND)],
    }
    keys = {r["uscc"] for r in rows}
    assert not keys & set(kinds["unknown"]) and len(kinds["known"]) == PER_KIND
    with running_zone(config) as running:
        yield running, token, kinds


def call(zone: RunningZone, token: str, subject: str) -> verification_pb2.MatchReply:
    """One Match of ``subject`` claiming -7 employees (never a recorded value)."""
    _, element = blind(claim_input(PRODUCT, FIELD, 1.0, subject, -7))
    request = verification_pb2.MatchRequest(
        product=PRODUCT, purpose="probe", subjects=[subject],
        blinded=[verification_pb2.BlindedClaim(name=FIELD, elements=element)],
    )  # fmt: skip
    stub = verification_pb2_grpc.VerificationServiceStub(grpc.insecure_channel(target(zone)))
    reply: verification_pb2.MatchReply = stub.Match(
        request, metadata=(("authorization", f"Bearer {token}"),), timeout=30
    )
    return reply


def signals(zone: RunningZone, token: str, subject: str) -> dict[str, Any]:
    """Everything the caller gets from one call, less what is random or an id."""
    reply = call(zone, token, subject)
    (evaluated,) = reply.evaluated
    blob = evaluated.evaluations
    tags = [blob[i : i + TAG_BYTES] for i in range(ELEMENT_BYTES, len(blob), TAG_BYTES)]
    assert element_problem(blob[:ELEMENT_BYTES]) is None
    assert len(set(tags)) == len(tags) == 2 * TOLERANCE + 1
    caller = ZoneClient(target(zone), token=token, timeout=10)
    receipt = dict(caller.get_receipt(reply.release_id).receipt)
    return {
        "status": list(reply.status),
        "membership": reply.membership,
        "refusals": list(reply.consent_refusals),
        "sizes": [len(e.evaluations) for e in reply.evaluated],
        "names": [e.name for e in reply.evaluated],
        "tolerance": [e.tolerance for e in reply.evaluated],
        "receipt": {k: v for k, v in receipt.items() if k not in VARYING},
        "reply_bytes": len(reply.SerializeToString())
        - len(reply.release_id)
        - len(reply.output_digest),
    }


def refusal(zone: RunningZone, token: str, subject: str) -> tuple[str, str]:
    try:
        call(zone, token, subject)
    except grpc.RpcError as exc:
        return exc.code().name, exc.details()
    return "OK", ""


def test_known_null_and_unknown_subjects_look_the_same(
    setup: tuple[RunningZone, str, dict[str, list[str]]],
) -> None:
    zone, token, kinds = setup
    seen = {kind: [signals(zone, token, s) for s in subjects] for kind, subjects in kinds.items()}
    reference = seen["known"][0]
    differing = {
        kind: sum(1 for s in values for key in s if s[key] != reference[key])
        for kind, values in seen.items()
    }
    print(f"\nfields differing from a known subject's call: {differing}")
    print(f"receipt fields compared: {sorted(reference['receipt'])}")
    assert differing == {"known": 0, "no whole value": 0, "unknown": 0}
    assert reference["status"] == [verification_pb2.UNDISCLOSED]


def test_a_full_window_is_refused_alike(
    setup: tuple[RunningZone, str, dict[str, list[str]]],
) -> None:
    zone, token, kinds = setup
    answers = {}
    for kind, subjects in kinds.items():
        subject = subjects[-1]
        for _ in range(2):  # the first test used one check of each subject
            assert refusal(zone, token, subject) == ("OK", "")
        answers[kind] = refusal(zone, token, subject)
    print(f"\nthe 4th check: {answers}")
    assert answers["known"][0] == "RESOURCE_EXHAUSTED"
    assert answers["known"] == answers["no whole value"] == answers["unknown"]
