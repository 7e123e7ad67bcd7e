"""Attacks on Match through the real server: a malicious caller with full control of its bytes.

The BFV Match this replaced let one crafted ciphertext recover every recorded value of every
subject in one call (issue 14). Here the attacker sends whatever 32-byte elements it likes
over gRPC and computes anything from the replies; it must get exactly the declared answer
(per subject and claim: is one value of its choice within the tolerance) and nothing more.
Malformed elements are refused with INVALID_ARGUMENT before anything is consumed. Recovery
rates are printed next to chance (run with ``-s``). The same attacks against the core, with
more subjects: tests/security/test_match_oprf_attacks.py.
"""

from __future__ import annotations

import collections
import csv
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import rbcl
from zonekit import add_principal, client, make_zone_dir, running_zone, target

from zone._proto import verification_pb2, verification_pb2_grpc
from zone.client.match import match_requests
from zone.server.app import RunningZone
from zone.wire.oprf import (
    ELEMENT_BYTES,
    IDENTITY,
    claim_input,
    finalize,
    hash_to_group,
    split_reply,
)

PRODUCT = "capital-open"
FIELD = "employees"
TOLERANCE = 2
OPEN = f"""id: {PRODUCT}
kind: verification
dataset: enterprises
description: capital checks without consent (attack tests)
key: uscc
claims: {{registered_capital: {{tolerance: 0, unit: 0.01}}, {FIELD}: {{tolerance: {TOLERANCE}}}}}
limits: {{checks_per_subject: 4, window_hours: 24, max_subjects_per_call: 4096}}
consent: none
"""
SUBJECTS_PER_ATTACK = 300


@dataclass
class Attack:
    running: RunningZone
    token: str
    truth: dict[str, int]
    """Recorded employees per subject (the attacker does not know them)."""
    unused: Iterator[str]

    def take(self, count: int) -> list[str]:
        return [next(self.unused) for _ in range(count)]

    def stub(self) -> verification_pb2_grpc.VerificationServiceStub:
        return verification_pb2_grpc.VerificationServiceStub(
            grpc.insecure_channel(target(self.running))
        )

    def send(
        self, subjects: Sequence[str], elements: bytes, field: str = FIELD
    ) -> verification_pb2.MatchReply:
        request = verification_pb2.MatchRequest(
            product=PRODUCT, purpose="attack", subjects=list(subjects),
            blinded=[verification_pb2.BlindedClaim(name=field, elements=elements)],
        )  # fmt: skip
        metadata = (("authorization", f"Bearer {self.token}"),)
        reply: verification_pb2.MatchReply = self.stub().Match(
            request, metadata=metadata, timeout=60
        )
        return reply

    def code(self, request: verification_pb2.MatchRequest) -> grpc.StatusCode:
        try:
            self.stub().Match(request, metadata=(("authorization", f"Bearer {self.token}"),),
                              timeout=30)  # fmt: skip
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
        return grpc.StatusCode.OK

    def state(self, sql: str) -> Any:
        conn = sqlite3.connect(self.running.services.config.state_db)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attack]:
    config = make_zone_dir(tmp_path_factory.mktemp("match-attacks"), rows=3000)
    (config.parent / "models" / f"{PRODUCT}.yaml").write_text(OPEN)
    token = add_principal(config, "attacker", products=(PRODUCT,))
    with (config.parent / "enterprises.csv").open() as handle:
        truth = {row["uscc"]: int(row[FIELD]) for row in csv.DictReader(handle)}
    with running_zone(config) as running:
        yield Attack(running, token, truth, iter(list(truth)))


def point(subject: str, code: int, field: str = FIELD, unit: float = 1.0) -> bytes:
    return hash_to_group(claim_input(PRODUCT, field, unit, subject, code))


def mult(scalar: int, element: bytes) -> bytes:
    return bytes(rbcl.crypto_scalarmult_ristretto255(scalar.to_bytes(32, "little"), element))


def add(points: Sequence[bytes]) -> bytes:
    total = points[0]
    for item in points[1:]:
        total = bytes(rbcl.crypto_core_ristretto255_add(total, item))
    return total


def views(reply: verification_pb2.MatchReply, count: int) -> list[tuple[bytes, frozenset[bytes]]]:
    (claim,) = reply.evaluated
    return split_reply(claim.evaluations, count, claim.tolerance)


def reproduced(
    subject: str, evaluated: bytes, tags: frozenset[bytes], candidates: range
) -> set[int]:
    """Every candidate whose tag the attacker reproduces from E and its small multiples."""
    derived = [evaluated] + [mult(s, evaluated) for s in range(2, 9)]
    return {
        w
        for w in candidates
        for y in derived
        if finalize(claim_input(PRODUCT, FIELD, 1.0, subject, w), y) in tags
    }


def prior_mass(values: Sequence[int], guess: int) -> float:
    return sum(abs(v - guess) <= TOLERANCE for v in values) / len(values)


def test_an_unblinded_guess_tests_that_guess_and_nothing_else(attack: Attack) -> None:
    subjects = attack.take(SUBJECTS_PER_ATTACK)
    values = list(attack.truth.values())
    guess = collections.Counter(values).most_common(1)[0][0]  # the best prior guess
    reply = attack.send(subjects, b"".join(point(s, guess) for s in subjects))
    hits, extra = set(), 0
    window = range(guess - 40, guess + 41)
    for subject, (evaluated, tags) in zip(subjects, views(reply, len(subjects)), strict=True):
        found = reproduced(subject, evaluated, tags, window)
        extra += len(found - {guess})
        if guess in found:
            hits.add(subject)
    declared = {s for s in subjects if abs(attack.truth[s] - guess) <= TOLERANCE}
    assert hits == declared  # exactly the one membership bit per subject it asked for
    assert extra == 0  # no other value of the window recognised
    rate = len(hits) / len(subjects)
    print(f"\nunblinded guess {guess}: {len(hits)}/{len(subjects)} in the window ({rate:.3f}); "
          f"chance (prior mass of the window) {prior_mass(values, guess):.3f}")  # fmt: skip


def test_sums_random_and_multiples_recover_nothing(attack: Attack) -> None:
    values = list(attack.truth.values())
    common = [v for v, _ in collections.Counter(values).most_common(24)]
    candidates = range(min(common) - TOLERANCE, max(common) + TOLERANCE + 1)
    subjects = attack.take(SUBJECTS_PER_ATTACK)
    sums = [add([point(s, v) for v in common]) for s in subjects]
    randoms = [hash_to_group(os.urandom(64)) for _ in subjects]
    scaled = [mult(7, point(s, common[0])) for s in subjects]  # 7 * H1(g): E = 7k H1(g)
    recovered = {}
    for name, elements in (("sum of 24 guesses", sums), ("random elements", randoms)):
        reply = attack.send(subjects[:150], b"".join(elements[:150]))
        pairs = zip(subjects[:150], views(reply, 150), strict=True)
        recovered[name] = sum(len(reproduced(s, e, t, candidates)) for s, (e, t) in pairs)
    reply = attack.send(subjects[150:], b"".join(scaled[150:]))
    pairs = zip(subjects[150:], views(reply, 150), strict=True)
    # Only the value whose multiple was sent can be recognised (7^-1 E = k H1(g)): no other.
    inverse = int.from_bytes(
        rbcl.crypto_core_ristretto255_scalar_invert((7).to_bytes(32, "little")), "little"
    )
    found = [reproduced(s, mult(inverse, e), t, candidates) for s, (e, t) in pairs]
    assert all(f <= {common[0]} for f in found)
    assert recovered == {"sum of 24 guesses": 0, "random elements": 0}
    print(f"\ncrafted elements, tags reproduced: {recovered} (chance 0)")


def test_answers_are_useless_in_another_call_or_for_another_subject(attack: Attack) -> None:
    subjects = attack.take(100)
    codes = [attack.truth[s] for s in subjects]  # the attacker knows the true values here
    first = attack.send(
        subjects, b"".join(point(s, c) for s, c in zip(subjects, codes, strict=True))
    )
    second = attack.send(
        subjects, b"".join(point(s, c) for s, c in zip(subjects, codes, strict=True))
    )
    one, two = views(first, 100), views(second, 100)
    tag = [finalize(claim_input(PRODUCT, FIELD, 1.0, s, c), e)
           for s, c, (e, _) in zip(subjects, codes, one, strict=True)]  # fmt: skip
    assert all(t in tags for t, (_, tags) in zip(tag, one, strict=True))  # own call: matches
    assert not any(t in tags for t, (_, tags) in zip(tag, two, strict=True))  # a new call: not
    assert not any(t in tags for t, (_, tags) in zip(tag, one[1:] + one[:1], strict=True))


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("identity", lambda s: IDENTITY),
        ("non-canonical", lambda s: point(s, 1)[:-1] + bytes([point(s, 1)[-1] | 0x80])),
        ("not a point", lambda s: b"\xff" * ELEMENT_BYTES),
        ("too short", lambda s: point(s, 1)[:-1]),
        ("too long", lambda s: point(s, 1) + b"\x00"),
        ("empty", lambda s: b""),
    ],
)
def test_malformed_elements_are_refused_before_anything_is_consumed(
    attack: Attack, kind: str, make: Any
) -> None:
    subjects = attack.take(2)
    before = (attack.state("SELECT COUNT(*) FROM verification_checks"),
              attack.state("SELECT COUNT(*) FROM usage"))  # fmt: skip
    good = point(subjects[0], 1)
    for elements in (make(subjects[1]), good + make(subjects[1])):
        request = verification_pb2.MatchRequest(
            product=PRODUCT, purpose="attack", subjects=subjects,
            blinded=[verification_pb2.BlindedClaim(name=FIELD, elements=elements)],
        )  # fmt: skip
        assert attack.code(request) == grpc.StatusCode.INVALID_ARGUMENT, kind
    after = (attack.state("SELECT COUNT(*) FROM verification_checks"),
             attack.state("SELECT COUNT(*) FROM usage"))  # fmt: skip
    assert after == before


def test_random_bytes_are_refused_or_answered_with_nothing_to_learn(attack: Attack) -> None:
    subjects = attack.take(1)
    outcomes = collections.Counter()
    for _ in range(300):
        blob = os.urandom(ELEMENT_BYTES)
        request = verification_pb2.MatchRequest(
            product=PRODUCT, purpose="attack", subjects=subjects,
            blinded=[verification_pb2.BlindedClaim(name=FIELD, elements=blob)],
        )  # fmt: skip
        code = attack.code(request)
        outcomes[code.name] += 1
        if code == grpc.StatusCode.OK:  # a valid encoding by chance: a random element
            assert outcomes["OK"] <= 4  # the window allows 4 checks of this subject
    assert set(outcomes) <= {"INVALID_ARGUMENT", "OK", "RESOURCE_EXHAUSTED"}
    assert outcomes["INVALID_ARGUMENT"] >= 250  # most 32-byte strings are not encodings
    print(f"\n300 random 32-byte elements: {dict(outcomes)}")


def test_requests_that_do_not_fit_the_product_are_refused(attack: Attack) -> None:
    subject = attack.take(1)
    element = point(subject[0], 1)

    def request(**changes: Any) -> verification_pb2.MatchRequest:
        fields: dict[str, Any] = {
            "product": PRODUCT, "purpose": "attack", "subjects": subject,
            "blinded": [verification_pb2.BlindedClaim(name=FIELD, elements=element)],
        }  # fmt: skip
        return verification_pb2.MatchRequest(**{**fields, **changes})

    twice = [verification_pb2.BlindedClaim(name=FIELD, elements=element)] * 2
    other = [verification_pb2.BlindedClaim(name="tax_paid", elements=element)]
    for bad in (request(blinded=[]), request(blinded=twice), request(blinded=other),
                request(subjects=subject * 2), request(purpose=""),
                request(consents=["a", "b"])):  # fmt: skip
        assert attack.code(bad) == grpc.StatusCode.INVALID_ARGUMENT


def test_a_subject_cannot_be_checked_again_and_again(attack: Attack) -> None:
    (subject,) = attack.take(1)
    for guess in range(4):
        attack.send([subject], point(subject, guess * 5))
    before = attack.state("SELECT COUNT(*) FROM verification_checks")
    with pytest.raises(grpc.RpcError) as refused:
        attack.send([subject], point(subject, 99))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(refused.value.trailing_metadata() or ())
    assert "grpc-status-details-bin" in trailers  # a google.rpc.QuotaFailure: do not retry
    assert attack.state("SELECT COUNT(*) FROM verification_checks") == before


def test_the_zone_receives_no_claimed_value(attack: Attack) -> None:
    """Two requests for the same claim carry unrelated elements; neither holds the value."""
    parameters = client(attack.running, "bank").describe_product("capital-match").parameters
    claim = {"registered_capital": [12345.67]}
    (_, first), (_, second) = (
        next(match_requests("capital-match", ["S"], claim, "p", parameters)) for _ in range(2)
    )
    one, two = first.blinded[0].elements, second.blinded[0].elements
    assert one != two and len(one) == ELEMENT_BYTES
    assert b"1234567" not in first.SerializeToString()
