"""Hostile input through the real gRPC API, for every method in the method table.

``zone serve`` runs in a child process (a crash is seen as the process dying). For each method
of ``METHOD_TABLE`` at least 300 hostile calls are sent as raw bytes (see tests/hostilekit.py
for the kinds). Every call must end with a clear status (never INTERNAL, UNKNOWN or
UNIMPLEMENTED), the server must keep serving after every method's batch, and a rejected call
must charge nothing: no privacy reservation, no budget, no metered usage, no quota. Run with
``-s`` to see the counts per method; benchmarks/hostile_report.py writes them as JSON.

Cross-principal access: ids that one operator's calls returned (job ids, release ids, ...)
are used by another operator on every method whose request has a field of that name; the
answer must be exactly the answer for an id that does not exist (no existence oracle).
"""

from __future__ import annotations

import collections
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hostilekit import Case, Method, cases_for, seed, send, served_methods
from zonekit import TOKENS, add_principal, make_zone_dir, serve_process

from zone._proto import jobs_pb2, statistics_pb2
from zone.client import ZoneClient

METHODS = served_methods()
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
CLEAR = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.ALREADY_EXISTS,
}
ENDED_EARLY = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
REGISTER_KEY = "/zone.v1.VerificationService/RegisterKey"
VERIFICATION = REGISTER_KEY in {m.path for m in METHODS}
PRODUCTS = ("enterprise-stats", "enterprise-default-lr") + (
    ("capital-match",) if VERIFICATION else ()
)


@dataclass
class HostileZone:
    target: str
    state: Path
    proc: subprocess.Popen[str]
    owner_token: str
    other_token: str


@pytest.fixture(scope="module")
def hostile_zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileZone]:
    config = make_zone_dir(tmp_path_factory.mktemp("hostile"))
    # Hostile but valid training requests as bank-a may spend its whole delta budget (1e-5),
    # which is also the demo's zone-wide cap: leave room for owner-a's job.
    demo = config.parent / "policies" / "demo.yaml"
    text = demo.read_text()
    assert "epsilon: 50.0, delta: 1.0e-5" in text
    demo.write_text(text.replace("epsilon: 50.0, delta: 1.0e-5", "epsilon: 50.0, delta: 1.0e-3"))
    owner, other = (
        add_principal(
            config,
            name,
            products=PRODUCTS,
            epsilon=5.0,
            per_job_epsilon=1.0,
        )
        for name in ("owner-a", "bank-b")
    )
    proc, target = serve_process(config)
    try:
        yield HostileZone(target, config.parent / "state.sqlite", proc, owner, other)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert proc.stdout is not None
        proc.stdout.close()


class Charges:
    """What a call may have charged: reservations, budget spent, metered usage, quota used."""

    def __init__(self, state: Path) -> None:
        self._conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
        self._queries = [
            "SELECT count(*) FROM charges",
            "SELECT coalesce(sum(epsilon_micro + delta_femto), 0) FROM budget_spend",
        ]
        if "usage" in tables:  # zone/metering (migration 0006)
            self._queries.append("SELECT count(*) FROM usage WHERE voided_at IS NULL")
        if "quota_use" in tables:
            self._queries.append("SELECT coalesce(sum(used), 0) FROM quota_use")

    def take(self) -> tuple[int, ...]:
        return tuple(int(self._conn.execute(q).fetchone()[0]) for q in self._queries)

    def reserved(self) -> int:
        query = (  # a queued or running training job holds its reservation until it ends
            "SELECT count(*) FROM charges c WHERE state = 'reserved' AND NOT EXISTS (SELECT 1 "
            "FROM jobs j WHERE j.release_id = c.release_id AND j.state IN ('queued', 'running'))"
        )
        return int(self._conn.execute(query).fetchone()[0])

    def close(self) -> None:
        self._conn.close()


def _still_serving(zone: HostileZone) -> None:
    assert zone.proc.poll() is None, "zone serve died"
    with grpc.insecure_channel(zone.target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    with ZoneClient(zone.target, token=TOKENS["bank"], timeout=10) as bank:
        assert bank.list_datasets()


def _run(
    channel: grpc.Channel, method: Method, cases: list[Case], charges: Charges
) -> collections.Counter[tuple[str, str]]:
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    for case in cases:
        before = charges.take()
        code, message = send(channel, method, case)
        seen[(case.kind, code.name)] += 1
        where = f"{method.path} {case.kind}: {code.name} {message[:200]!r}"
        allowed = CLEAR | ENDED_EARLY if case.ended_early else CLEAR
        if method.public:  # grpcio-health-checking 1.85 does not implement Health/List
            allowed = allowed | {grpc.StatusCode.UNIMPLEMENTED}
        if method.server_streaming or method.client_streaming:  # stream slots (with a hint)
            allowed = allowed | {grpc.StatusCode.UNAVAILABLE}
        assert code in allowed, where
        assert "metadata size" not in message, where  # the client dropped an oversized status
        after = charges.take()
        if code != grpc.StatusCode.OK and not case.ended_early:
            assert after[0] == before[0] and all(
                a <= b for a, b in zip(after[1:], before[1:], strict=True)
            ), f"rejected call charged something: {where} {before} -> {after}"
    return seen


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.path.strip("/"))
def test_hostile_inputs_get_clear_statuses_and_charge_nothing(
    hostile_zone: HostileZone, method: Method
) -> None:
    cases = cases_for(method, MAX_MESSAGE_BYTES)
    assert len(cases) >= 300
    regular = [c for c in cases if not c.ended_early]
    early = [c for c in cases if c.ended_early]
    charges = Charges(hostile_zone.state)
    try:
        with grpc.insecure_channel(hostile_zone.target) as channel:
            seen = _run(channel, method, regular, charges)
            before = charges.take()
            seen += _run(channel, method, early, charges)
            time.sleep(0.5)  # calls the client gave up on may still finish on the server
            after = charges.take()
            # A call whose deadline passed mid-flight may complete (at most one charge each),
            # never one left open.
            assert after[0] - before[0] <= len(early)
            assert charges.reserved() == 0
    finally:
        charges.close()
    _still_serving(hostile_zone)
    statuses = collections.Counter(code for (_, code), n in seen.items() for _ in range(n))
    print(f"\n{method.path}: {len(cases)} inputs, {dict(sorted(statuses.items()))}")
    assert "INTERNAL" not in statuses and "UNKNOWN" not in statuses


def _owned_ids(zone: HostileZone) -> dict[str, str]:
    """Objects made by owner-a: a training job and a statistics release."""
    metadata = (("authorization", f"Bearer {zone.owner_token}"),)
    with grpc.insecure_channel(zone.target) as channel:
        job = jobs_pb2.Job.FromString(
            channel.unary_unary("/zone.v1.JobService/SubmitTraining")(
                jobs_pb2.TrainingRequest(
                    product="enterprise-default-lr", epsilon=0.5, delta=1e-6, epochs=1
                ).SerializeToString(),
                metadata=metadata,
                timeout=10,
            )
        )
        query = seed(next(m for m in METHODS if m.path.endswith("/Query")))
        release = statistics_pb2.StatisticsResult.FromString(
            channel.unary_unary("/zone.v1.StatisticsService/Query")(
                query.SerializeToString(), metadata=metadata, timeout=10
            )
        )
    owned = {"job_id": job.job_id, "release_id": release.release_id}
    if VERIFICATION:
        from zone.client import he

        with ZoneClient(zone.target, token=zone.owner_token) as owner:
            owned["key_id"] = owner.register_key(he.new_keys("ckks-8192"))
            owned["consent_id"] = owner.register_consent(
                "capital-match", "91000000000000000X", purpose="p", letter_sha256="ab" * 32,
                not_after=datetime.now(UTC) + timedelta(days=1),
            ).consent  # fmt: skip
    return owned


def _as_other(zone: HostileZone, method: Method, name: str, value: str) -> tuple[str, str]:
    request = seed(method)
    setattr(request, name, value)
    case = Case("cross_principal", (request.SerializeToString(),), token=zone.other_token)
    with grpc.insecure_channel(zone.target) as channel:
        code, message = send(channel, method, case)
    return code.name, message


def test_one_operator_cannot_reach_another_operators_objects(hostile_zone: HostileZone) -> None:
    owned = _owned_ids(hostile_zone)
    tried = 0
    for method in METHODS:
        fields = {f.name for f in method.request.DESCRIPTOR.fields}
        for name in fields & set(owned):
            theirs = _as_other(hostile_zone, method, name, owned[name])
            unknown = _as_other(hostile_zone, method, name, "0" * len(owned[name]))
            assert theirs[0] != "OK", (method.path, name, theirs)
            assert theirs == unknown, (method.path, name, theirs, unknown)  # no oracle
            tried += 1
    # jobs 4, receipts 1; keys: Describe, Revoke, Score; consents: Describe, Revoke
    assert tried >= 5 + 5 * VERIFICATION
    with ZoneClient(hostile_zone.target, token=hostile_zone.other_token) as other:
        assert owned["job_id"] not in {j.job_id for j in other.list_jobs()}
    with ZoneClient(hostile_zone.target, token=hostile_zone.owner_token) as owner:
        assert owner.get_job(owned["job_id"]).state != "CANCELLED"  # the other's cancel: no-op
        if "key_id" in owned:
            assert owner.describe_key(owned["key_id"]).revoked_at == ""  # and the revoke
            assert owner.describe_consent(owned["consent_id"]).revoked_at is None
    print(f"\ncross-principal: {tried} (method, id field) pairs, all answered as unknown ids")


def _key_rows(zone: HostileZone) -> int:
    conn = sqlite3.connect(f"file:{zone.state}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM verification_keys").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.skipif(not VERIFICATION, reason="VerificationService is not served")
@pytest.mark.parametrize("how", ["half_then_close", "half_then_cancel"])
def test_key_upload_stopped_halfway_registers_nothing(hostile_zone: HostileZone, how: str) -> None:
    from zone.client import he

    method = next(m for m in METHODS if m.path == REGISTER_KEY)
    chunks = [c.SerializeToString() for c in he.upload(he.new_keys("ckks-8192"), 64 * 1024)]
    assert len(chunks) >= 4
    half = tuple(chunks[: len(chunks) // 2])
    case = (
        Case(how, half, token=hostile_zone.owner_token)
        if how == "half_then_close"
        else Case(how, half, token=hostile_zone.owner_token, cancel_after=0.5, ended_early=True)
    )
    before = _key_rows(hostile_zone)
    with grpc.insecure_channel(hostile_zone.target) as channel:
        code, message = send(channel, method, case)
    time.sleep(0.3)
    assert code != grpc.StatusCode.OK and code in CLEAR | ENDED_EARLY, (code, message)
    assert _key_rows(hostile_zone) == before
    _still_serving(hostile_zone)
