"""A client in another language: reflection v1 only, dynamic messages, Match from the docs.

grpcurl >= 1.9, grpc-go's ``grpcreflect``, grpc-java, tonic and Postman ask for
``grpc.reflection.v1.ServerReflection`` first, and some never fall back to ``v1alpha``. This
client speaks v1 alone (the upstream v1 messages, nothing of grpcio-reflection), builds every
message from the descriptors the zone sends into a pool of its own, writes requests as JSON,
and drives ListDatasets, a DP statistics query and a Match call whose OPRF side is written
from docs/SECURITY.md ("A Match client in another language") with libsodium through rbcl:
no ``zone.client``, no ``zone.wire``. What the docs omit, this client cannot do.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
import rbcl
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass
from zonekit import TOKENS, target

from zone._proto import reflection_v1_pb2 as v1
from zone.server.app import RunningZone
from zone.server.methods import METHOD_TABLE

REFLECT = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
BANK = (("authorization", f"Bearer {TOKENS['bank']}"),)
PURPOSE = "loan application 2026-0142 (reflection v1 client)"
# From docs/SECURITY.md, not from the code.
T1 = b"zone.verification.match.oprf.v1.hash-to-group"
T2 = b"zone.verification.match.oprf.v1.finalize"


def _reflect(channel: grpc.Channel, *requests: v1.ServerReflectionRequest) -> list[Any]:
    call = channel.stream_stream(
        REFLECT,
        request_serializer=v1.ServerReflectionRequest.SerializeToString,
        response_deserializer=v1.ServerReflectionResponse.FromString,
    )
    return list(call(iter(requests), timeout=10))


class ReflectedApi:
    """The zone's API as a v1 reflection client learns it: a pool built from the wire."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        (listed,) = _reflect(channel, v1.ServerReflectionRequest(list_services=""))
        self.services = {s.name for s in listed.list_services_response.service}
        self.files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        for name in sorted(self.services):
            self.fetch_symbol(name)
        self.pool = DescriptorPool()
        added: set[str] = set()
        while len(added) < len(self.files):  # dependencies first
            for name, proto in self.files.items():
                if name not in added and set(proto.dependency) <= added:
                    self.pool.Add(proto)
                    added.add(name)

    def fetch_symbol(self, symbol: str) -> None:
        (reply,) = _reflect(self.channel, v1.ServerReflectionRequest(file_containing_symbol=symbol))
        assert reply.WhichOneof("message_response") == "file_descriptor_response", (symbol, reply)
        for raw in reply.file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self.files[proto.name] = proto
        for proto in list(self.files.values()):
            missing = [d for d in proto.dependency if d not in self.files]
            assert not missing, f"{proto.name}: dependencies not sent {missing}"

    def call(self, method: str, body: dict[str, Any], metadata: Any = BANK) -> dict[str, Any]:
        """A unary call written and read as JSON (proto3 JSON mapping)."""
        service, _, name = method.rpartition(".")
        descriptor = self.pool.FindServiceByName(service).FindMethodByName(name)
        request_cls = GetMessageClass(descriptor.input_type)
        reply_cls = GetMessageClass(descriptor.output_type)
        stub = self.channel.unary_unary(
            f"/{service}/{name}",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=reply_cls.FromString,
        )
        reply = stub(json_format.ParseDict(body, request_cls()), metadata=metadata, timeout=20)
        return json_format.MessageToDict(reply)


@pytest.fixture(scope="module")
def api(shared_zone: RunningZone) -> Iterator[ReflectedApi]:
    with grpc.insecure_channel(target(shared_zone)) as channel:
        yield ReflectedApi(channel)


def test_v1_lists_every_service_and_describes_itself(api: ReflectedApi) -> None:
    assert {
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.health.v1.Health",
        "zone.v1.CatalogService",
        "zone.v1.StatisticsService",
        "zone.v1.VerificationService",
        "zone.v1.AdminService",
    } <= api.services
    methods = {
        f"/{name}/{m.name}"
        for name in api.services
        for m in api.pool.FindServiceByName(name).methods
    }
    assert methods == set(METHOD_TABLE)
    v1_file = api.pool.FindFileContainingSymbol("grpc.reflection.v1.ServerReflection")
    assert v1_file.name == "grpc/reflection/v1/reflection.proto"
    assert v1_file.package == "grpc.reflection.v1"


def test_methods_messages_and_enums_resolve_by_symbol(api: ReflectedApi) -> None:
    """``grpcurl describe zone.v1.CatalogService.ListDatasets`` asks for a method's symbol."""
    for symbol in (
        "zone.v1.CatalogService.ListDatasets",
        "zone.v1.VerificationService.Match",
        "zone.v1.MatchRequest",
        "zone.v1.SubjectStatus",
        "zone.v1.Measure.Kind",
        "grpc.reflection.v1.ServerReflection.ServerReflectionInfo",
    ):
        api.fetch_symbol(symbol)
    for missing in ("zone.v1.CatalogService.NoSuchMethod", "zone.v1.NoSuchService.ListDatasets"):
        (reply,) = _reflect(api.channel, v1.ServerReflectionRequest(file_containing_symbol=missing))
        assert reply.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_error_detail_types_resolve_by_reflection(api: ReflectedApi) -> None:
    """grpcurl decodes ``grpc-status-details-bin`` by resolving each detail's type this way."""
    for detail in ("BadRequest", "QuotaFailure", "PreconditionFailure", "RetryInfo"):
        api.fetch_symbol(f"google.rpc.{detail}")
    api.fetch_symbol("google.rpc.Status")


def test_unknown_symbol_is_a_not_found_reply_not_a_broken_stream(api: ReflectedApi) -> None:
    (reply,) = _reflect(
        api.channel, v1.ServerReflectionRequest(file_containing_symbol="zone.v1.NoSuchThing")
    )
    assert reply.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_undecodable_v1_bytes_are_invalid_argument(api: ReflectedApi) -> None:
    call = api.channel.stream_stream(REFLECT)
    with pytest.raises(grpc.RpcError) as err:
        list(call(iter([b"\xff\xff\xff"]), timeout=10))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_datasets_and_a_dp_query(api: ReflectedApi) -> None:
    datasets = api.call("zone.v1.CatalogService.ListDatasets", {})
    assert "enterprises" in {d["name"] for d in datasets["datasets"]}
    result = api.call(
        "zone.v1.StatisticsService.Query",
        {
            "product": "enterprise-stats",
            "measures": [{"kind": "COUNT"}],
            "groupBy": ["district"],
            "epsilon": 0.1,
        },
    )
    assert result["releaseId"] and result["charged"]["epsilon"] == pytest.approx(0.1)
    assert result["results"][0]["plan"]["measure"]["kind"] == "COUNT"
    assert len(result["results"][0]["cells"]) >= 2
    # what a client in another language reads says how to authenticate
    with pytest.raises(grpc.RpcError) as err:
        api.call("zone.v1.CatalogService.ListDatasets", {}, metadata=())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "'authorization: Bearer <token>'" in err.value.details()
    assert dict(err.value.trailing_metadata())["x-request-id"]
    with pytest.raises(grpc.RpcError) as err:
        api.call("zone.v1.CatalogService.ListDatasets", {}, metadata=(("authorization", "x"),))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "'authorization: Bearer <token>'" in err.value.details()


# --- the Match client, from docs/SECURITY.md ---------------------------------------------------


def lp(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def unit_text(unit: float) -> bytes:
    """``0x1.`` + 13 hex digits of the fraction + ``p`` + signed exponent (normal floats)."""
    bits = struct.unpack(">Q", struct.pack(">d", unit))[0]
    exponent = ((bits >> 52) & 0x7FF) - 1023
    return f"0x1.{bits & ((1 << 52) - 1):013x}p{exponent:+d}".encode()


def claim_x(product: str, column: str, unit: float, subject: str, code: int) -> bytes:
    parts = (product.encode(), column.encode(), unit_text(unit), subject.encode())
    return b"".join(lp(p) for p in parts) + lp(str(code).encode())


def h1(x: bytes) -> bytes:
    return bytes(rbcl.crypto_core_ristretto255_from_hash(hashlib.sha512(T1 + x).digest()))


def h2(x: bytes, element: bytes) -> bytes:
    return hashlib.sha512(T2 + lp(x) + element).digest()[:16]


def _registry(shared_zone_dir: Path, count: int) -> list[dict[str, str]]:
    with (shared_zone_dir / "enterprises.csv").open(newline="") as handle:
        return [row for _, row in zip(range(count), csv.DictReader(handle), strict=False)]


def test_match_from_the_documented_wire_format(api: ReflectedApi, shared_zone_dir: Path) -> None:
    described = api.call("zone.v1.CatalogService.DescribeProduct", {"id": "capital-match"})
    parameters = described["parameters"]
    assert parameters["param_sets"]["match"] == "oprf-ristretto255-sha512"
    claims = parameters["claims"]
    units = {name: float(c["unit"]) for name, c in claims.items()}
    tolerances = {name: int(c["tolerance"]) for name, c in claims.items()}
    rows = _registry(shared_zone_dir.parent, 4)
    unknown = "91000000000000000X"
    subjects = [row["uscc"] for row in rows] + [unknown]
    employees = [int(row["employees"]) for row in rows]
    # claimed: true, true + t (still a match), true + t + 1 (no match), true, unknown subject
    t = tolerances["employees"]
    claimed = {
        "employees": [employees[0], employees[1] + t, employees[2] + t + 1, employees[3], 5],
        "registered_capital": [
            int(Decimal(rows[0]["registered_capital"]) / Decimal(str(units["registered_capital"]))),
            int(Decimal(rows[1]["registered_capital"]) * 100) + 1,  # one unit off, t = 0
            int(Decimal(rows[2]["registered_capital"]) * 100),
            int(Decimal(rows[3]["registered_capital"]) * 100),
            100,
        ],
    }
    now = datetime.now(UTC)
    consents = [
        api.call(
            "zone.v1.ConsentService.RegisterConsent",
            {
                "product": "capital-match",
                "subject": subject,
                "purpose": PURPOSE,
                "notBefore": (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "notAfter": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "maxUses": 5,
                "letterSha256": hashlib.sha256(subject.encode()).hexdigest(),
            },
        )["consent"]
        for subject in subjects
    ]
    secrets: dict[str, list[tuple[bytes, bytes]]] = {}
    blinded = []
    for column, codes in claimed.items():
        pairs = []
        for subject, code in zip(subjects, codes, strict=True):
            x = claim_x("capital-match", column, units[column], subject, code)
            a = bytes(rbcl.crypto_core_ristretto255_scalar_random())
            pairs.append((x, a, bytes(rbcl.crypto_scalarmult_ristretto255(a, h1(x)))))
        secrets[column] = [(x, a) for x, a, _ in pairs]
        elements = b"".join(b for _, _, b in pairs)
        blinded.append({"name": column, "elements": base64.b64encode(elements).decode()})
    reply = api.call(
        "zone.v1.VerificationService.Match",
        {
            "product": "capital-match",
            "purpose": PURPOSE,
            "subjects": subjects,
            "blinded": blinded,
            "consents": consents,
        },
    )
    assert reply["status"] == ["FOUND"] * 4 + ["NOT_FOUND"]
    verdicts: dict[str, list[bool]] = {}
    for evaluated in reply["evaluated"]:
        column = evaluated["name"]
        width = 2 * int(evaluated.get("tolerance", 0)) + 1
        assert int(evaluated.get("tolerance", 0)) == tolerances[column]
        raw = base64.b64decode(evaluated["evaluations"])
        step = 32 + 16 * width
        assert len(raw) == step * len(subjects)
        verdicts[column] = []
        for index, (x, a) in enumerate(secrets[column]):
            chunk = raw[index * step : (index + 1) * step]
            e = chunk[:32]
            assert rbcl.crypto_core_ristretto255_is_valid_point(e) and e != bytes(32)
            tags = {chunk[i : i + 16] for i in range(32, step, 16)}
            inverse = rbcl.crypto_core_ristretto255_scalar_invert(a)
            u = bytes(rbcl.crypto_scalarmult_ristretto255(inverse, e))
            verdicts[column].append(h2(x, u) in tags)
    found = 4  # NOT_FOUND's part is filler: its verdict is not read
    assert verdicts["employees"][:found] == [True, True, False, True]
    assert verdicts["registered_capital"][:found] == [True, False, True, True]
