"""Match's master secret: made once (0600), refused when exposed, never printed or pickled."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from zone.errors import FailedPrecondition
from zone.products.verification.pet import call_secret
from zone.products.verification.secret import MasterSecret, load_master_secret


def test_made_on_first_start_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "match-secret.key"
    first = load_master_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) == 32
    again = load_master_secret(path)  # the second start reads the same secret
    assert again._value == first._value == path.read_bytes()


def test_per_call_secrets_differ_and_derive_from_the_master(tmp_path: Path) -> None:
    secret = load_master_secret(tmp_path / "k")
    assert secret.call_secret() != secret.call_secret()  # a fresh nonce each call
    assert len(secret.call_secret()) == 64
    assert call_secret(secret._value, b"n" * 32) == call_secret(secret._value, b"n" * 32)


@pytest.mark.parametrize(
    ("prepare", "fragment"),
    [
        (lambda p: (p.write_bytes(os.urandom(32)), p.chmod(0o640)), "chmod 600"),
        (lambda p: (p.write_bytes(os.urandom(32)), p.chmod(0o606)), "chmod 600"),
        (lambda p: (p.write_bytes(os.urandom(31)), p.chmod(0o600)), "exactly 32 bytes"),
        (lambda p: (p.write_bytes(b""), p.chmod(0o600)), "exactly 32 bytes"),
        (lambda p: p.mkdir(mode=0o700), "not a regular file"),
        (lambda p: p.symlink_to(p.parent / "elsewhere"), "not a regular file"),
    ],
    ids=["group-readable", "world-writable", "short", "empty", "directory", "symlink"],
)
def test_an_exposed_or_damaged_file_stops_the_start(
    tmp_path: Path, prepare: object, fragment: str
) -> None:
    path = tmp_path / "match-secret.key"
    (tmp_path / "elsewhere").write_bytes(os.urandom(32))
    prepare(path)  # type: ignore[operator]
    with pytest.raises(FailedPrecondition) as refused:
        load_master_secret(path)
    assert fragment in refused.value.message and refused.value.reason == "bad_match_secret"


def test_the_secret_is_never_printed_nor_pickled() -> None:
    value = os.urandom(32)
    secret = MasterSecret(value)
    assert value.hex() not in repr(secret) and "redacted" in str(secret)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ValueError):
        MasterSecret(value[:16])
