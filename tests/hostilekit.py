"""Hostile inputs for every method the zone serves, built from the request descriptors.

Used by tests/security/test_hostile_inputs.py and benchmarks/hostile_report.py. The methods
come from ``zone.server.methods.METHOD_TABLE`` and their request types from the protobuf
descriptor pool, so a method added to the table later is covered without changes here.

Each method gets at least 300 hostile calls, from a seeded generator: random bytes; mutations of
a well-formed request
(bit flips, truncations, wrong wire types, huge length prefixes, unknown fields, invalid UTF-8
in string fields); unicode, NUL and SQL metacharacters in every string field; negative, NaN,
infinite and extreme values in every numeric and enum field; repeated fields with many
entries; a message over the size limit; missing or malformed credentials; clients whose
deadline expires at once; for request-streaming methods, streams that stop halfway; and for
Match, hostile blinded elements (identity, non-canonical, off the curve, wrong lengths, random
bytes) and hostile consent references (oversized, forged tokens, misaligned lists).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from zonekit import TOKENS

from zone.client.stats import build_query, count
from zone.server.methods import METHOD_TABLE
from zone.wire.oprf import IDENTITY, claim_input, hash_to_group

MIN_CASES = 300
MANY = 10_000
METACHARACTERS = (
    "'; DROP TABLE ds_enterprises; --",
    '" OR 1=1 --',
    "SELECT * FROM read_csv('/etc/passwd')",
    "\x00",
    "a\x00b",
    "企业",
    "\u202eevil",
    "\U0001f642" * 50,
    "%s%s%n",
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "\\",
    "enterprises\n",
    " ",
    "x" * 100_000,
)
# No credentials, malformed, unknown, a lapsed licence (grpcio refuses non-ASCII ones itself).
BAD_TOKENS = (None, "", "x" * 5000, "a b c", TOKENS["expired"])
INTS = {
    "int32": (-1, -(2**31), 2**31 - 1),
    "int64": (-1, -(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (2**64 - 1,),
}
FLOATS = (math.nan, math.inf, -math.inf, -0.0, -1.0, 1e308, 5e-324, -1e-300)
ENUMS = (-1, 99, 2**31 - 1)
_F = FieldDescriptor
_INT_KIND = {
    _F.TYPE_INT32: "int32", _F.TYPE_SINT32: "int32", _F.TYPE_SFIXED32: "int32",
    _F.TYPE_INT64: "int64", _F.TYPE_SINT64: "int64", _F.TYPE_SFIXED64: "int64",
    _F.TYPE_UINT32: "uint32", _F.TYPE_FIXED32: "uint32",
    _F.TYPE_UINT64: "uint64", _F.TYPE_FIXED64: "uint64",
}  # fmt: skip
_WIRE = {_F.TYPE_DOUBLE: 1, _F.TYPE_FIXED64: 1, _F.TYPE_SFIXED64: 1, _F.TYPE_FLOAT: 5,
         _F.TYPE_FIXED32: 5, _F.TYPE_SFIXED32: 5, _F.TYPE_STRING: 2, _F.TYPE_BYTES: 2,
         _F.TYPE_MESSAGE: 2}  # fmt: skip


@dataclass(frozen=True)
class Method:
    """A served method and its request type."""

    path: str
    request: type[Message]
    client_streaming: bool
    server_streaming: bool
    public: bool
    operator_may_call: bool

    @property
    def service(self) -> str:
        """The service's short name, e.g. ``StatisticsService``."""
        return self.path.strip("/").split("/")[0].rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Case:
    """One hostile call: its kind, the request message(s) as bytes, how it is sent."""

    kind: str
    chunks: tuple[bytes, ...]
    token: str | None = "default"  # "default": the method's usual principal
    timeout: float = 10.0
    cancel_after: float | None = None  # request streams: stop sending, then cancel
    ended_early: bool = field(default=False)  # DEADLINE_EXCEEDED / CANCELLED expected


def served_methods() -> list[Method]:
    """Every method of the method table, with its request type from the descriptor pool."""
    import zone.server.app  # noqa: F401 - registers every served proto file in the pool

    pool = descriptor_pool.Default()
    methods = []
    for path, rule in sorted(METHOD_TABLE.items()):
        service, _, name = path.strip("/").partition("/")
        md = pool.FindServiceByName(service).methods_by_name[name]
        methods.append(
            Method(
                path=path,
                request=message_factory.GetMessageClass(md.input_type),
                client_streaming=md.client_streaming,
                server_streaming=md.server_streaming,
                public=rule.public,
                operator_may_call="operator" in rule.roles,
            )
        )
    return methods


# --- a well-formed seed request per method ---------------------------------------------------

_PRODUCT_BY_SERVICE = {
    "JobService": "enterprise-default-lr",
    "VerificationService": "capital-match",
}


def seed(method: Method) -> Message:
    """A well-formed (often valid) request: the base that the mutations start from."""
    if method.request.DESCRIPTOR.full_name == "zone.v1.StatisticsQuery":
        return build_query("enterprise-stats", [count()], epsilon=0.01)
    message = method.request()
    _fill(message, 0)
    product = _PRODUCT_BY_SERVICE.get(method.service, "enterprise-stats")
    names = {f.name for f in message.DESCRIPTOR.fields}
    if "product" in names:
        message.product = product  # type: ignore[attr-defined]
    if method.request.DESCRIPTOR.full_name == "zone.v1.TrainingRequest":
        message.epsilon, message.delta, message.epochs = 0.5, 1e-6, 1  # type: ignore[attr-defined]
        message.ClearField("features")
        for name in ("batch_size", "learning_rate", "max_grad_norm", "hidden_width"):
            message.ClearField(name)
    return message


def _fill(message: Message, depth: int) -> None:
    """Give every field a mild value (one element for repeated fields), to depth 3."""
    for fd in message.DESCRIPTOR.fields:
        if fd.containing_oneof is not None and message.WhichOneof(fd.containing_oneof.name):
            continue
        if _is_map(fd):
            continue
        if fd.type == _F.TYPE_MESSAGE:
            if depth >= 3:
                continue
            target = getattr(message, fd.name)
            sub = target.add() if _repeated(fd) else target
            _fill(sub, depth + 1)
            if not _repeated(fd):
                sub.SetInParent()
            continue
        value = _mild(fd)
        if _repeated(fd):
            getattr(message, fd.name).append(value)
        else:
            setattr(message, fd.name, value)


def _mild(fd: FieldDescriptor) -> Any:
    if fd.type == _F.TYPE_STRING:
        return "enterprises" if "dataset" in fd.name or fd.name == "name" else "employees"
    if fd.type == _F.TYPE_BYTES:
        return b"\x01\x02"
    if fd.type == _F.TYPE_BOOL:
        return True
    if fd.type in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT):
        return 0.5
    return 1


def _repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def _is_map(fd: FieldDescriptor) -> bool:
    return bool(fd.type == _F.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry)


# --- field-level cases ------------------------------------------------------------------------

Path = tuple[FieldDescriptor, ...]


def field_paths(descriptor: Descriptor, depth: int = 0) -> Iterator[Path]:
    """Every non-message field reachable from ``descriptor`` (message fields to depth 3)."""
    for fd in descriptor.fields:
        if _is_map(fd):
            continue
        if fd.type == _F.TYPE_MESSAGE:
            if depth < 3:
                for rest in field_paths(fd.message_type, depth + 1):
                    yield (fd, *rest)
            yield (fd,)
        else:
            yield (fd,)


def _with(base: Message, path: Path, apply: Callable[[Message, FieldDescriptor], None]) -> bytes:
    message = type(base)()
    message.CopyFrom(base)
    target = message
    for fd in path[:-1]:
        container = getattr(target, fd.name)
        if _repeated(fd):
            target = container[0] if len(container) else container.add()
        else:
            target = container
    apply(target, path[-1])
    message.DiscardUnknownFields()
    return message.SerializeToString()


def _set(value: Any) -> Callable[[Message, FieldDescriptor], None]:
    def apply(target: Message, fd: FieldDescriptor) -> None:
        if _repeated(fd):
            getattr(target, fd.name).append(value)
        else:
            setattr(target, fd.name, value)

    return apply


def _many(target: Message, fd: FieldDescriptor) -> None:
    container = getattr(target, fd.name)
    if fd.type == _F.TYPE_MESSAGE:
        for _ in range(MANY):
            container.add()
    else:
        container.extend([_mild(fd)] * MANY)


def typed_cases(base: Message) -> Iterator[tuple[str, bytes]]:
    """Metacharacters, extreme numbers, bad enums and many entries, field by field."""
    for path in field_paths(base.DESCRIPTOR):
        fd = path[-1]
        if _repeated(fd):
            yield "many_entries", _with(base, path, _many)
        if fd.type == _F.TYPE_STRING:
            for text in METACHARACTERS:
                yield "metacharacters", _with(base, path, _set(text))
        elif fd.type in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT):
            for number in FLOATS:
                yield "extreme_numbers", _with(base, path, _set(number))
        elif fd.type in _INT_KIND:
            for number in INTS[_INT_KIND[fd.type]]:
                yield "extreme_numbers", _with(base, path, _set(number))
        elif fd.type == _F.TYPE_ENUM:
            for number in ENUMS:
                yield "bad_enums", _with(base, path, _set(number))


# --- wire-level mutations ---------------------------------------------------------------------


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative integer."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return varint((number << 3) | wire)


def wire_cases(
    base: Message, rng: random.Random, max_message_bytes: int
) -> Iterator[tuple[str, bytes]]:
    """Mutations of the serialized seed and hand-made malformed encodings."""
    raw = base.SerializeToString()
    numbers = [fd.number for fd in base.DESCRIPTOR.fields] or [1]
    for _ in range(20 if raw else 0):
        flipped = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        yield "bit_flip", bytes(flipped)
    for _ in range(min(10, len(raw))):
        yield "truncated", raw[: rng.randrange(len(raw))]
    for fd in base.DESCRIPTOR.fields:
        declared = _WIRE.get(fd.type, 0)
        for wire in {0, 1, 2, 5, 3, 4} - {declared}:
            body = {0: varint(rng.getrandbits(60)), 1: rng.randbytes(8), 5: rng.randbytes(4),
                    2: varint(3) + b"abc", 3: b"", 4: b""}[wire]  # fmt: skip
            yield "wrong_wire_type", raw + _tag(fd.number, wire) + body
        if fd.type == _F.TYPE_STRING:
            yield "invalid_utf8", raw + _tag(fd.number, 2) + varint(4) + b"\xff\xfe\xc3\x28"
    for huge in (2**31, 2**32 + 7, 2**63 - 1, 2**64 - 1):
        yield "huge_length", raw + _tag(rng.choice(numbers), 2) + varint(huge) + b"abc"
    for number in (1000, 2**29 - 1, 19000):
        yield "unknown_field", raw + _tag(number, 2) + varint(5) + b"hello"
    yield "oversized", raw + _tag(2**20, 2) + varint(max_message_bytes) + b"\0" * max_message_bytes
    yield "zero_field_number", raw + _tag(0, 0) + b"\x01"
    yield "deep_nesting", _nested(numbers[0], 200)


def _nested(number: int, depth: int) -> bytes:
    inner = b""
    for _ in range(depth):
        inner = _tag(number, 2) + varint(len(inner)) + inner
    return inner


def _element(subject: str, code: int) -> bytes:
    return hash_to_group(claim_input("capital-match", "employees", 1.0, subject, code))


def match_cases(seed_base: Message, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Hostile blinded elements and consent references in an otherwise valid MatchRequest."""
    if seed_base.DESCRIPTOR.full_name != "zone.v1.MatchRequest":
        return
    good = _element("employees", 1)
    flipped = good[:-1] + bytes([good[-1] | 0x80])  # libsodium ignores this bit: refused
    elements = [IDENTITY, flipped, b"\xff" * 32, b"", good[:-1], good + b"\x00", good * 2,
                good * 10_000]  # fmt: skip
    elements += [rng.randbytes(32) for _ in range(40)]
    elements += [rng.randbytes(rng.choice((1, 31, 33, 64, 4096))) for _ in range(20)]
    base = type(seed_base)()
    base.CopyFrom(seed_base)
    base.blinded[0].name = "employees"  # type: ignore[attr-defined]
    for blob in elements:
        message = type(base)()
        message.CopyFrom(base)
        message.blinded[0].elements = blob  # type: ignore[attr-defined]
        yield "hostile_element", message.SerializeToString()
    forged = "eyJ2IjoxfQ." + "A" * 86
    for refs in (["x" * 3000], [forged], ["a.b.c"], ["", ""], [], ["c-" + "0" * 32], ["\x00"]):
        message = type(base)()
        message.CopyFrom(base)
        message.blinded[0].elements = good  # type: ignore[attr-defined]
        del message.consents[:]  # type: ignore[attr-defined]
        message.consents.extend(refs)  # type: ignore[attr-defined]
        yield "hostile_consent", message.SerializeToString()


def cases_for(method: Method, max_message_bytes: int) -> list[Case]:
    """At least ``MIN_CASES`` hostile calls for ``method``, the same on every run."""
    rng = random.Random(method.path)
    base = seed(method)
    raw = base.SerializeToString()
    cases = [Case(kind, (payload,)) for kind, payload in wire_cases(base, rng, max_message_bytes)]
    cases += [Case(kind, (payload,)) for kind, payload in typed_cases(base)]
    cases += [Case(kind, (payload,)) for kind, payload in match_cases(base, rng)]
    cases += [Case("deadline_expired", (raw,), timeout=0.001, ended_early=True) for _ in range(3)]
    if not method.public:
        cases += [Case("bad_credentials", (raw,), token=t) for t in BAD_TOKENS]
    if method.client_streaming:
        cases.append(Case("stream_stopped", (raw, raw[: len(raw) // 2])))
        cases.append(Case("stream_cancelled", (raw,), cancel_after=0.2, ended_early=True))
        cases.append(Case("stream_many_chunks", (raw,) * 200))
    while len(cases) < MIN_CASES:
        cases.append(Case("random_bytes", (rng.randbytes(rng.choice((1, 8, 64, 512, 4096))),)))
    return cases


# --- sending ----------------------------------------------------------------------------------


def metadata_for(method: Method, case: Case) -> tuple[tuple[str, str], ...]:
    """The credentials a case is sent with."""
    token = case.token
    if token == "default":
        token = TOKENS["bank"] if method.operator_may_call or method.public else TOKENS["admin"]
    if token is None:
        return ()
    return (("authorization", f"Bearer {token}"),)


def send(channel: grpc.Channel, method: Method, case: Case) -> tuple[grpc.StatusCode, str]:
    """Send one case as raw bytes; return the status code and message the client saw."""
    metadata = metadata_for(method, case)
    try:
        if method.client_streaming:
            return _send_stream(channel, method, case, metadata)
        if method.server_streaming:
            responses = channel.unary_stream(method.path)(
                case.chunks[0], metadata=metadata, timeout=case.timeout
            )
            try:
                next(responses, None)  # the first message (or the end) is enough
            finally:
                responses.cancel()
            return grpc.StatusCode.OK, ""
        channel.unary_unary(method.path)(case.chunks[0], metadata=metadata, timeout=case.timeout)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as err:
        return err.code(), str(err.details())  # type: ignore[attr-defined]


def _send_stream(
    channel: grpc.Channel, method: Method, case: Case, metadata: tuple[tuple[str, str], ...]
) -> tuple[grpc.StatusCode, str]:
    chunks = iter(case.chunks)
    if case.cancel_after is not None:
        chunks = _then_stall(case.chunks)
    if method.server_streaming:
        call = channel.stream_stream(method.path)(chunks, metadata=metadata, timeout=case.timeout)
        if case.cancel_after is not None:
            _cancel_later(call, case.cancel_after)
        for _ in call:
            pass
        return grpc.StatusCode.OK, ""
    future = channel.stream_unary(method.path).future(
        chunks, metadata=metadata, timeout=case.timeout
    )
    if case.cancel_after is not None:
        _cancel_later(future, case.cancel_after)
    try:
        future.result()
    except grpc.FutureCancelledError:
        return grpc.StatusCode.CANCELLED, "cancelled by the client"
    return grpc.StatusCode.OK, ""


def _then_stall(chunks: tuple[bytes, ...]) -> Iterator[bytes]:
    yield from chunks
    time.sleep(5)  # the client cancels before this ends


def _cancel_later(call: Any, seconds: float) -> None:
    timer = threading.Timer(seconds, call.cancel)
    timer.daemon = True
    timer.start()
