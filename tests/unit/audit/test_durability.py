from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from zone.audit import verify_file

ROOT = Path(__file__).resolve().parents[3]
KILLS = 5

CHILD = """
import os, sys
from pathlib import Path
from zone.audit import AuditChain
from zone.state import StateStore

chain = AuditChain(StateStore.open(Path(sys.argv[1])))
durable = sys.argv[2] == "durable"
i = 0
while True:
    entry = chain.append("test.append", {"pid": os.getpid(), "i": i}, durable=durable)
    sys.stdout.write(f"{entry.seq} {entry.hash}\\n")
    sys.stdout.flush()
    i += 1
"""


def _run_and_kill(db_path: Path, rng: random.Random, mode: str) -> dict[int, str]:
    """Start an appending child, SIGKILL it at a random moment, return what it acknowledged."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db_path), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        assert child.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(child.stdout or ()))
        reader.start()
        wanted = rng.randint(0, 400)
        deadline = time.monotonic() + 5
        while len(lines) < wanted and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.02))
        child.send_signal(signal.SIGKILL)
        child.wait()
        reader.join()
    assert child.returncode == -signal.SIGKILL
    acked = [line.split() for line in lines if line.endswith("\n")]
    return {int(seq): digest for seq, digest in acked}


def _stored(db_path: Path) -> dict[int, str]:
    conn = sqlite3.connect(db_path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT seq, hash FROM audit_log"))
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["durable", "not-durable"])
def test_sigkill_loses_no_acknowledged_append(tmp_path: Path, mode: str) -> None:
    """A process crash loses nothing: synchronous=NORMAL only gives up OS-crash durability."""
    db_path = tmp_path / "zone.db"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acked_total: dict[int, str] = {}
    for kill in range(KILLS):
        acked = _run_and_kill(db_path, rng, mode)
        acked_total.update(acked)
        if not db_path.exists():
            assert not acked_total, f"seed {seed}"
            continue
        result = verify_file(db_path)
        assert result.ok, f"seed {seed}, kill {kill}: {result}"
        stored = _stored(db_path)
        missing = {s: h for s, h in acked_total.items() if stored.get(s) != h}
        assert missing == {}, f"seed {seed}, kill {kill}: lost acknowledged appends"
    assert len(acked_total) > 0, f"seed {seed}"
