"""Attacks on Score and its keys: hostile keys, other principals' keys, model extraction,
weight recovery from replies, and fuzzed contexts and ciphertexts.

Match (an OPRF, no keys): tests/security/test_match_attacks.py.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import grpc
import hekit
import numpy as np
import pytest
import tenseal as ts
import yaml
from zonekit import (
    REPO,
    TOKENS,
    add_principal,
    client,
    demo_rows,
    make_zone_dir,
    running_zone,
    target,
)

from zone._proto import verification_pb2, verification_pb2_grpc
from zone.client import ResourceExhaustedError, ZoneClient
from zone.client.he import HEKeys, encrypt_blocks, new_keys
from zone.products.verification.score import combine, combine_planes, protect
from zone.products.verification.validate import load_vector
from zone.server.app import RunningZone
from zone.wire.fresh import encrypt_zero
from zone.wire.he_params import CKKS_SCORE

PRODUCT = "capital-match"
WEIGHTS = yaml.safe_load((REPO / "models" / "capital-match.yaml").read_text())["score_model"][
    "weights"
]
Stub = verification_pb2_grpc.VerificationServiceStub


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, str]]:
    config = make_zone_dir(
        tmp_path_factory.mktemp("he-attacks"),
        extra_config="verification:\n  max_key_bytes: 1048576\n",
    )
    product = config.parent / "models" / "capital-match.yaml"
    text = product.read_text().replace("score_queries_per_model: 200000",
                                       "score_queries_per_model: 8")  # fmt: skip
    # Consent refusals: tests/integration/test_consent_api.py.
    product.write_text(text.replace("consent: operator", "consent: none"))
    other = add_principal(config, "bank-b", products=(PRODUCT,))
    with running_zone(config) as running:
        yield running, other


@pytest.fixture(scope="module")
def subjects(zone: tuple[RunningZone, str]) -> Iterator[str]:
    return iter([row["uscc"] for row in demo_rows(zone[0])])


def stub(zone: RunningZone, token: str) -> tuple[Stub, Any]:
    channel = grpc.insecure_channel(target(zone))
    return Stub(channel), (("authorization", f"Bearer {token}"),)


def code_of(call: Any, *args: Any, **kwargs: Any) -> grpc.StatusCode:
    try:
        call(*args, timeout=20, **kwargs)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def register(zone: RunningZone, blob: bytes, param_set: str = "ckks-8192") -> grpc.StatusCode:
    service, metadata = stub(zone, TOKENS["bank"])
    chunks = [verification_pb2.KeyChunk(param_set=param_set, data=blob[i : i + 256 * 1024])
              for i in range(0, max(len(blob), 1), 256 * 1024)]  # fmt: skip
    return code_of(service.RegisterKey, iter(chunks), metadata=metadata)


def key_count(zone: RunningZone) -> int:
    conn = sqlite3.connect(zone.services.config.state_db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM verification_keys").fetchone()[0])
    finally:
        conn.close()


def registered(zone: RunningZone, name: str) -> HEKeys:
    keys = hekit.caller_keys(name)
    if not keys.key_id or key_count(zone) == 0:
        client(zone, "bank").register_key(keys)
    return keys


def ckks_context(**changes: Any) -> bytes:
    args = {"poly_modulus_degree": 8192, "coeff_mod_bit_sizes": [60, 40, 40, 60], "n_threads": 1,
            **changes}  # fmt: skip
    context = ts.context(ts.SCHEME_TYPE.CKKS, **args)
    context.global_scale = CKKS_SCORE.scale
    return bytes(context.serialize(save_secret_key=False, save_relin_keys=False,
                                   save_galois_keys=False))  # fmt: skip


def test_hostile_contexts_are_refused_and_nothing_is_stored(zone: tuple[RunningZone, str]) -> None:
    running, _ = zone
    before = key_count(running)
    keys = new_keys("ckks-8192")
    secret = bytes(keys.context.serialize(save_secret_key=True, save_relin_keys=False,
                                          save_galois_keys=False))  # fmt: skip
    bfv = ts.context(ts.SCHEME_TYPE.BFV, 4096, 67_239_937, [46, 46, 17])
    for blob, param_set in [
        (secret, "ckks-8192"),
        (bytes(keys.context.serialize(save_secret_key=False)), "ckks-8192"),  # relin keys
        (ckks_context(coeff_mod_bit_sizes=[60, 40, 60]), "ckks-8192"),
        (ckks_context(poly_modulus_degree=16384, coeff_mod_bit_sizes=[60, 40, 40, 60]),
         "ckks-8192"),
        (bytes(bfv.serialize(save_secret_key=False, save_relin_keys=False,
                             save_galois_keys=False)), "ckks-8192"),
        (keys.public_context(), "bfv-4096"),  # BFV is no longer a parameter set at all
        (keys.public_context(), "ckks-4096"),
        (b"\x00" * (1048576 + 1), "ckks-8192"),  # over the configured cap
    ]:  # fmt: skip
        assert register(running, blob, param_set) == grpc.StatusCode.INVALID_ARGUMENT
    assert key_count(running) == before


def test_an_interrupted_upload_registers_nothing(zone: tuple[RunningZone, str]) -> None:
    running, _ = zone
    before = key_count(running)
    public = new_keys("ckks-8192").public_context()

    def halfway() -> Iterator[verification_pb2.KeyChunk]:
        yield verification_pb2.KeyChunk(param_set="ckks-8192", data=public[:50_000])
        raise RuntimeError("the caller stops")

    service, metadata = stub(running, TOKENS["bank"])
    assert code_of(service.RegisterKey, halfway(), metadata=metadata) != grpc.StatusCode.OK
    assert key_count(running) == before


def score_request(
    keys: HEKeys,
    subjects: list[str],
    blocks: list[list[bytes]] | None = None,
    lanes: int = 0,
    purpose: str = "p",
) -> Any:
    """A Score request with the blocks of the caller's two features (``lanes`` 0: not packed).

    Without ``blocks``: one valid encryption of 0.5 for each feature.
    """
    if blocks is None:
        blocks = [[encrypt_blocks(keys, [0.5])[0]]] * 2
    return verification_pb2.ScoreRequest(
        product=PRODUCT, key_id=keys.key_id, purpose=purpose, subjects=subjects, lanes=lanes,
        features=[verification_pb2.Ciphertexts(name="loan_amount", blocks=blocks[0]),
                  verification_pb2.Ciphertexts(name="days_overdue", blocks=blocks[1])],
    )  # fmt: skip


def test_another_principals_key_reads_as_unknown(zone: tuple[RunningZone, str]) -> None:
    running, other_token = zone
    keys = registered(running, CKKS_SCORE.name)
    service, metadata = stub(running, other_token)
    ref = verification_pb2.KeyRef(key_id=keys.key_id)
    assert code_of(service.DescribeKey, ref, metadata=metadata) == grpc.StatusCode.NOT_FOUND
    assert code_of(service.RevokeKey, ref, metadata=metadata) == grpc.StatusCode.NOT_FOUND
    request = score_request(keys, ["X"])
    assert code_of(service.Score, request, metadata=metadata) == grpc.StatusCode.NOT_FOUND
    assert not client(running, "bank").describe_key(keys.key_id).revoked_at


def test_scoring_budget_per_model_is_enforced(
    zone: tuple[RunningZone, str], subjects: Iterator[str]
) -> None:
    running, other_token = zone
    other = ZoneClient(target(running), token=other_token, timeout=20)
    keys = new_keys("ckks-8192")
    other.register_key(keys)
    features = {"loan_amount": [1.0] * 4, "days_overdue": [1.0] * 4}
    for _ in range(2):  # budget 8 subjects (the test zone's product file)
        other.score_batch(PRODUCT, keys, [next(subjects) for _ in range(4)], features, purpose="x")
    one = {"loan_amount": [1.0], "days_overdue": [1.0]}
    with pytest.raises(ResourceExhaustedError):
        other.score_batch(PRODUCT, keys, [next(subjects)], one, purpose="x")


def _attack(reply_blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Read the zone's plaintexts off a reply to inputs with c0 = 0 and c1 = j * q_last."""
    keys = hekit.caller_keys(CKKS_SCORE.name)
    vector = ts.ckks_vector_from(keys.context, reply_blob)
    weights = hekit.decode_ckks_polynomial(vector, 1, CKKS_SCORE.scale)
    zone_part = hekit.decode_ckks_polynomial(vector, 0, CKKS_SCORE.scale)
    return weights, zone_part


def crafted_features() -> list[bytes]:
    q_last = CKKS_SCORE.coeff_modulus[-2]  # the data prime the multiplication rescales away
    return [hekit.crafted_input(CKKS_SCORE, q_last), hekit.crafted_input(CKKS_SCORE, 2 * q_last)]


def test_naive_reply_gives_the_weights_and_the_records_away() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    vectors = [load_vector(context, CKKS_SCORE, b, "f") for b in crafted_features()]
    live = np.arange(CKKS_SCORE.slot_count) < 3
    weights = [WEIGHTS["loan_amount"], WEIGHTS["days_overdue"]]
    zone_part = np.linspace(-2.0, 2.0, CKKS_SCORE.slot_count)
    naive = combine(vectors, weights, live).add(np.where(live, zone_part, 0.0).tolist())
    recovered, records = _attack(bytes(naive.serialize()))
    truth = weights[0] + 2 * weights[1]
    assert np.abs(recovered[:3] - truth).max() < 1e-6  # every weight combination, exactly
    assert np.abs(records[:3] - zone_part[:3]).max() < 1e-6  # and the zone's own part


@pytest.mark.parametrize("made_ahead", [True, False])
def test_protected_reply_resists_the_attack_whichever_way_it_is_encrypted(
    made_ahead: bool,
) -> None:
    """A zero made ahead plus the values, or the values encrypted directly (none ready)."""
    context = hekit.zone_context(CKKS_SCORE.name)
    vectors = [load_vector(context, CKKS_SCORE, b, "f") for b in crafted_features()]
    live = np.arange(CKKS_SCORE.slot_count) < 3
    weights = [WEIGHTS["loan_amount"], WEIGHTS["days_overdue"]]
    zone_part = np.linspace(-2.0, 2.0, CKKS_SCORE.slot_count)
    zero = encrypt_zero(context, CKKS_SCORE) if made_ahead else None
    reply = protect(zero, combine(vectors, weights, live), zone_part, live, 0.05, context=context)
    recovered, records = _attack(bytes(reply.serialize()))
    assert np.all(np.abs(recovered[:3] - (weights[0] + 2 * weights[1])) > 1e3)
    assert np.all(np.abs(records[:3] - zone_part[:3]) > 1e3)


def test_rerandomized_flooded_reply_resists_the_same_attack(
    zone: tuple[RunningZone, str], subjects: Iterator[str]
) -> None:
    running, _ = zone
    keys = registered(running, CKKS_SCORE.name)
    service, metadata = stub(running, TOKENS["bank"])
    blobs = crafted_features()
    request = score_request(
        keys, [next(subjects) for _ in range(3)], [[blobs[0]], [blobs[1]]], purpose="attack"
    )
    reply = service.Score(request, metadata=metadata, timeout=20)  # structurally valid: accepted
    recovered, records = _attack(reply.logits[0])
    truth = WEIGHTS["loan_amount"] + 2 * WEIGHTS["days_overdue"]
    assert np.all(np.abs(recovered[:3] - truth) > 1e3)
    assert np.all(np.abs(records[:3]) > 1e3)  # logits are within a few units: nothing left


def test_naive_packed_reply_gives_both_lanes_weights_away() -> None:
    context = hekit.zone_context(CKKS_SCORE.name)
    vector = load_vector(context, CKKS_SCORE, crafted_features()[0], "f")
    width = CKKS_SCORE.slot_count // 2
    multiplier = np.zeros(CKKS_SCORE.slot_count)
    multiplier[:3], multiplier[width : width + 3] = WEIGHTS["loan_amount"], WEIGHTS["days_overdue"]
    naive = combine_planes([vector], [multiplier])
    recovered, _ = _attack(bytes(naive.serialize()))
    assert np.abs(recovered[:3] - WEIGHTS["loan_amount"]).max() < 1e-6
    assert np.abs(recovered[width : width + 3] - WEIGHTS["days_overdue"]).max() < 1e-6


def test_packed_reply_resists_the_same_attack(
    zone: tuple[RunningZone, str], subjects: Iterator[str]
) -> None:
    running, _ = zone
    keys = registered(running, CKKS_SCORE.name)
    service, metadata = stub(running, TOKENS["bank"])
    request = score_request(keys, [next(subjects) for _ in range(2)],
                             [[crafted_features()[0]], []], lanes=2, purpose="attack")  # fmt: skip
    reply = service.Score(request, metadata=metadata, timeout=20)  # structurally valid: accepted
    assert reply.lanes == 2
    recovered, records = _attack(reply.logits[0])
    width = CKKS_SCORE.slot_count // 2
    assert np.all(np.abs(recovered[:2] - WEIGHTS["loan_amount"]) > 1e3)
    assert np.all(np.abs(recovered[width : width + 2] - WEIGHTS["days_overdue"]) > 1e3)
    assert np.all(np.abs(records[:2]) > 1e3)
    assert np.all(np.abs(records[width : width + 2]) > 1e3)


def check_rows(zone: RunningZone) -> int:
    conn = sqlite3.connect(zone.services.config.state_db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM verification_checks").fetchone()[0])
    finally:
        conn.close()


def test_layouts_that_do_not_fit_are_refused_and_admit_nothing(
    zone: tuple[RunningZone, str], subjects: Iterator[str]
) -> None:
    running, _ = zone
    keys = registered(running, CKKS_SCORE.name)
    service, metadata = stub(running, TOKENS["bank"])
    blob = encrypt_blocks(keys, [0.5])[0]
    one = [next(subjects)]
    many = [f"NO-SUCH-{i}" for i in range(CKKS_SCORE.slot_count // 2 + 1)]
    cases = [
        (3, [[blob], []], one, "bad_lanes"),  # more lanes than caller features
        (2, [[blob], []], many, "bad_lanes"),  # more subjects than a lane holds
        (2, [[blob], [blob]], one, "bad_block_count"),  # the second lane sends its own
        (2, [[], [blob]], one, "bad_block_count"),  # the group's first feature sends none
        (0, [[blob], []], one, "bad_block_count"),  # unpacked: every feature sends its own
        (2, [[blob, blob], []], one, "bad_block_count"),  # packed calls are one block
    ]
    before = check_rows(running)
    for lanes, blocks, names, reason in cases:
        with pytest.raises(grpc.RpcError) as refused:
            service.Score(score_request(keys, names, blocks, lanes, "attack"), metadata=metadata,
                          timeout=20)  # fmt: skip
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (lanes, reason)
        said = {"bad_lanes": "lanes", "bad_block_count": "ciphertext(s)"}[reason]
        assert said in str(refused.value.details()), (lanes, refused.value.details())
    assert check_rows(running) == before


def test_server_code_never_decrypts_or_holds_a_secret_key() -> None:
    forbidden = re.compile(
        r"\.decrypt\(|\.secret_key\(|\.decryptor\(|save_secret_key=True|Decryptor\("
    )
    for path in (REPO / "zone").rglob("*.py"):
        if path.parts[-2] in ("client", "_proto"):
            continue
        assert not forbidden.search(path.read_text()), path


# --- fuzzing ----------------------------------------------------------------------------------


def mutations(base: bytes, rng: random.Random, count: int, header: int) -> list[bytes]:
    """Random blobs, truncations, trailing junk and bit flips in the first ``header`` bytes."""
    out = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(0, 4096)))
        elif kind == 1:
            out.append(base[: rng.randrange(0, len(base))])
        elif kind == 2:
            out.append(base + rng.randbytes(rng.randrange(1, 64)))
        else:
            data = bytearray(base)
            data[rng.randrange(header)] ^= 1 << rng.randrange(8)
            out.append(bytes(data))
    return out


def test_fuzzed_contexts_and_ciphertexts_are_invalid_arguments(
    zone: tuple[RunningZone, str], subjects: Iterator[str]
) -> None:
    running, _ = zone
    rng = random.Random(20261127)
    keys = registered(running, CKKS_SCORE.name)
    before = key_count(running)
    ckks_public = new_keys("ckks-8192").public_context()
    contexts = [(b, "ckks-8192") for b in mutations(ckks_public, rng, 140, 18)]
    contexts += [(ckks_public + b"\x4a\x00", "ckks-8192"), (ckks_public * 2, "ckks-8192")]
    for blob, param_set in contexts:
        assert register(running, blob, param_set) == grpc.StatusCode.INVALID_ARGUMENT, blob[:40]
    assert key_count(running) == before
    service, metadata = stub(running, TOKENS["bank"])
    valid = encrypt_blocks(keys, [0.5])[0]
    ciphertexts = mutations(valid, rng, 170, 28)  # proto envelope, SEAL and zstd headers
    for blob in ciphertexts:
        request = score_request(keys, ["FUZZ-UNKNOWN"], [[blob], [valid]])
        code = code_of(service.Score, request, metadata=metadata)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, blob[:40]
    assert len(contexts) + len(ciphertexts) >= 300
    # Flips deep in the coefficients may be undetectable (like a ciphertext under another key):
    # they are refused or answered with noise, never a crash.
    for _ in range(10):
        data = bytearray(valid)
        data[rng.randrange(100, len(data))] ^= 1 << rng.randrange(8)
        request = score_request(keys, ["FUZZ-UNKNOWN"], [[bytes(data)], [valid]])
        code = code_of(service.Score, request, metadata=metadata)
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT)
    # The server still serves, and still answers.
    other = new_keys("ckks-8192")
    client(running, "bank").register_key(other)
    one = {"loan_amount": [1.0], "days_overdue": [1.0]}
    result = client(running, "bank").score_batch(PRODUCT, other, [next(subjects)], one,
                                                 purpose="after fuzzing")  # fmt: skip
    assert result[0].status == "SCORED"
