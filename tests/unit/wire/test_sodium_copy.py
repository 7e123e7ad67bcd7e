"""Importing the OPRF code leaves no copy of libsodium behind (rbcl writes one per import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_PROBE = """
import zone.wire.oprf as oprf
element = oprf.hash_to_group(b"subject")
assert len(element) == oprf.ELEMENT_BYTES
print("ok")
"""


def test_importing_the_oprf_code_leaves_no_library_file(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
