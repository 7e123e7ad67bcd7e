"""Consent uses on every state backend: exact under concurrency, recorded once per call.

A call's consents are taken by one conditional UPDATE per issuer (``zone.consent.consume``):
with one use left, concurrent calls in threads or processes admit exactly one subject, the
other calls' other subjects are still admitted (refusals are per subject), and the admin view
reads the same uses back from the per-call records.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from zone.consent import (
    ConsentScope,
    check_and_consume,
    checked_without_consent,
    consent_report,
    find,
    register,
)
from zone.state.api import State
from zone.state.location import StateLocation

PRINCIPAL, PRODUCT, PURPOSE = "bank-a", "capital-match", "credit"
NOW = datetime.now(UTC).replace(microsecond=0)
THREADS = 8
ROUNDS = 10


def consent(state: State, subject: str, max_uses: int = 1) -> str:
    with state.write() as tx:
        record = register(tx, principal=PRINCIPAL, product=PRODUCT, subject=subject,
                          purpose=PURPOSE, not_before=NOW - timedelta(hours=1),
                          not_after=NOW + timedelta(days=1), max_uses=max_uses,
                          letter_sha256="ab" * 32, now=NOW)  # fmt: skip
    return record.consent_id


def scope(request_id: str, mode: str = "operator") -> ConsentScope:
    return ConsentScope(PRINCIPAL, PRODUCT, PURPOSE, mode, request_id, f"rel-{request_id}")  # type: ignore[arg-type]


def uses(state: State, consent_id: str) -> int:
    with state.read() as tx:
        record = find(tx, "", consent_id)
    assert record is not None
    return record.uses


def test_threads_with_one_use_left_admit_exactly_one_and_keep_their_other_subjects(
    state: State,
) -> None:
    from statekit import run_threads

    barrier = threading.Barrier(THREADS)
    for round_ in range(ROUNDS):
        hot = consent(state, "S-hot", max_uses=2)
        with state.write() as tx:
            [first] = check_and_consume(tx, scope(f"warm-{round_}"), [("S-hot", hot)], now=NOW)
        assert first.reason == "ok"
        own = [consent(state, f"S-{round_}-{n}") for n in range(THREADS)]

        def call(n: int, hot: str = hot, own: list[str] = own, r: int = round_) -> list[str]:
            barrier.wait()
            pairs = [(f"S-{r}-{n}", own[n]), ("S-hot", hot)]
            with state.write() as tx:
                return [o.reason for o in check_and_consume(tx, scope(f"{r}-{n}"), pairs, now=NOW)]

        results = run_threads(THREADS, call)
        assert all(r[0] == "ok" for r in results), results
        assert sorted(r[1] for r in results) == ["ok"] + ["used_up"] * (THREADS - 1)
        assert uses(state, hot) == 2 and all(uses(state, c) == 1 for c in own)


def test_two_processes_with_one_use_left_admit_exactly_one(
    state: State, state_location: StateLocation
) -> None:
    from statekit import in_processes, take_consents

    pairs = [(f"S-{n}", consent(state, f"S-{n}")) for n in range(40)]
    first, second = in_processes(take_consents, [(state_location, w, pairs) for w in range(2)])
    for a, b in zip(first[0] + first[1], second[0] + second[1], strict=True):
        assert sorted((a, b)) == ["ok", "used_up"]
    assert all(uses(state, c) == 1 for _, c in pairs)
    with state.read() as tx:
        (recorded,) = tx.execute("SELECT sum(subject_count) FROM consent_calls").fetchone()
    assert recorded == 40


def test_the_admin_view_reads_the_per_call_records(state: State) -> None:
    mine = consent(state, "S-1", max_uses=5)
    other = consent(state, "S-2", max_uses=5)
    for n, at in enumerate((NOW, NOW + timedelta(minutes=1))):
        with state.write() as tx:
            pairs = [("S-1", mine), ("S-2", other), ("S-3", "")]
            check_and_consume(tx, scope(f"req-{n}"), pairs, now=at)
    with state.write() as tx:
        check_and_consume(tx, scope("free", "none"), [("S-7", None), ("S-8", None)], now=NOW)
    with state.read() as tx:
        report = consent_report(tx, mine)
        first_two = checked_without_consent(tx, requiring={PRODUCT}, limit=1)
        rest = checked_without_consent(tx, requiring={PRODUCT}, after_use=first_two[0].use_id)
        assert checked_without_consent(tx, requiring={"another"}) == []
    assert report.record.uses == 2
    assert [(u.request_id, u.release_id, u.subject, u.consent, u.used_at) for u in report.uses] == [
        ("req-0", "rel-req-0", "S-1", mine, NOW),
        ("req-1", "rel-req-1", "S-1", mine, NOW + timedelta(minutes=1)),
    ]
    assert [(u.subject, u.consent, u.mode) for u in first_two + rest] == [
        ("S-7", None, "none"),
        ("S-8", None, "none"),
    ]
