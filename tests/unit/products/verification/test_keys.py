"""Registered keys: bound to their owner, revocable, capped, parameter set enforced."""

from __future__ import annotations

from collections.abc import Iterator

import hekit
import pytest

from zone.audit import AuditChain
from zone.errors import FailedPrecondition, InvalidArgument, NotFound
from zone.products.verification.keys import KeyStore, TooManyKeys, read_upload
from zone.state import StateStore
from zone.wire.he_params import CKKS_SCORE


@pytest.fixture
def keys(store: StateStore, chain: AuditChain) -> KeyStore:
    return KeyStore(store, chain, max_keys=2, cache_size=1)


def test_register_describe_revoke(keys: KeyStore, store: StateStore) -> None:
    blob = hekit.caller_keys(CKKS_SCORE.name).public_context()
    info = keys.register("bank-a", "ckks-8192", blob, "r1")
    assert info.size_bytes == len(blob) and info.scheme == "ckks" and info.revoked_at is None
    assert keys.describe("bank-a", info.key_id) == info
    assert keys.context_for("bank-a", info.key_id, CKKS_SCORE).is_public()
    with pytest.raises(NotFound):
        keys.describe("bank-b", info.key_id)  # another principal: same as unknown
    with pytest.raises(NotFound):
        keys.context_for("bank-b", info.key_id, CKKS_SCORE)
    with pytest.raises(InvalidArgument, match="bfv-4096"):
        keys.context_for("bank-a", info.key_id, hekit.BFV_TEST)
    revoked = keys.revoke("bank-a", info.key_id, "r2")
    assert revoked.revoked_at is not None
    assert keys.revoke("bank-a", info.key_id, "r3").revoked_at == revoked.revoked_at
    with pytest.raises(FailedPrecondition):
        keys.context_for("bank-a", info.key_id, CKKS_SCORE)
    with store.read() as conn:
        actions = [
            row[0]
            for row in conn.execute(
                "SELECT json_extract(record, '$.action') FROM audit_log "
                "WHERE kind = 'verification.key' ORDER BY seq"
            )
        ]
    assert actions == ["registered", "revoked"]


def test_context_reloads_from_the_database(keys: KeyStore) -> None:
    blob = hekit.caller_keys("ckks-8192").public_context()
    first = keys.register("bank-a", "ckks-8192", blob, "r")
    keys.register("bank-a", "ckks-8192", blob, "r")
    # cache_size=1: the first context was evicted and is loaded (and checked) again
    assert keys.context_for("bank-a", first.key_id, CKKS_SCORE).is_public()


def test_active_keys_are_capped(keys: KeyStore) -> None:
    blob = hekit.caller_keys(CKKS_SCORE.name).public_context()
    first = keys.register("bank-a", "ckks-8192", blob, "r")
    keys.register("bank-a", "ckks-8192", blob, "r")
    with pytest.raises(TooManyKeys):
        keys.register("bank-a", "ckks-8192", blob, "r")
    keys.revoke("bank-a", first.key_id, "r")
    keys.register("bank-a", "ckks-8192", blob, "r")


@pytest.mark.parametrize("name", ["bfv-2048", "bfv-4096", "ckks-4096"])
def test_unknown_parameter_set_is_refused(keys: KeyStore, name: str) -> None:
    blob = hekit.caller_keys(hekit.BFV_TEST.name).public_context()  # Match's old BFV set
    with pytest.raises(InvalidArgument) as refused:
        keys.register("bank-a", name, blob, "r")
    assert refused.value.reason == "params_not_allowed"


def test_upload_is_joined_and_capped_without_reading_past_the_cap() -> None:
    assert read_upload(iter([("bfv-4096", b"ab"), ("", b"cd")]), 10) == ("bfv-4096", b"abcd")
    read: list[int] = []

    def endless() -> Iterator[tuple[str, bytes]]:
        for i in range(1000):
            read.append(i)
            yield ("bfv-4096" if i == 0 else "", b"x" * 100)

    with pytest.raises(InvalidArgument) as refused:
        read_upload(endless(), 1000)
    assert refused.value.reason == "key_too_large" and len(read) == 11
    for chunks in ([], [("", b"abc")], [("bfv-4096", b"")], [("a", b"x"), ("b", b"y")]):
        with pytest.raises(InvalidArgument):
            read_upload(iter(chunks), 10)
