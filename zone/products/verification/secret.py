"""Match's master secret: 32 random bytes from which every call's OPRF keys are derived.

The zone keeps it in one file, readable by its own user only (mode 0600), made with
``os.urandom`` on first start (``O_EXCL``: two starting zones cannot both make one). Anyone
holding it and a call's nonce can recompute that call's keys, so it never leaves the server
process: worker processes receive only the per-call secret (:func:`MasterSecret.call_secret`),
:class:`MasterSecret` prints as ``<redacted>`` and refuses to be pickled, and nothing logs or
audits it. Replacing the file changes no answer a caller can check (keys are per call), so
rotation is a restart with a new file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NoReturn

from zone.errors import FailedPrecondition
from zone.products.verification.pet import MASTER_SECRET_BYTES, call_secret, new_nonce

SECRET_FILE = "match-secret.key"
"""The default file name, next to the state database."""


class MasterSecret:
    """The master secret, held in memory; only per-call secrets leave it."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if len(value) != MASTER_SECRET_BYTES:
            raise ValueError(f"the master secret is {MASTER_SECRET_BYTES} bytes")
        self._value = bytes(value)

    def call_secret(self) -> bytes:
        """A fresh nonce's per-call secret (``pet.call_secret``): what workers receive."""
        return call_secret(self._value, new_nonce())

    def __repr__(self) -> str:
        return "MasterSecret(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("the master secret never leaves the server process")


def _refuse(path: Path, problem: str) -> FailedPrecondition:
    return FailedPrecondition(f"Match secret {path}: {problem}", reason="bad_match_secret")


def _create(path: Path) -> bool:
    """Write a fresh secret to ``path`` unless it exists; whether this call made it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.write(fd, os.urandom(MASTER_SECRET_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True


def load_master_secret(path: Path) -> MasterSecret:
    """The secret in ``path``, made first if the file does not exist.

    Raises:
        FailedPrecondition: the file is not a regular file of exactly 32 bytes, or group or
            others may read or write it (fix its mode: ``chmod 600``), or it cannot be read.
    """
    try:
        _create(path)
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, "not a regular file")
        if info.st_mode & 0o077:
            raise _refuse(path, "readable or writable by others: chmod 600 it")
        value = path.read_bytes()
    except OSError as exc:
        raise _refuse(path, f"cannot be read or made ({exc.strerror})") from None
    if len(value) != MASTER_SECRET_BYTES:
        raise _refuse(path, f"must hold exactly {MASTER_SECRET_BYTES} bytes")
    return MasterSecret(value)
