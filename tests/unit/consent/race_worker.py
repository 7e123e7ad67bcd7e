"""A separate process racing for consent uses: ``race_worker.py DB READY GO ID...``.

Opens its own StateStore on DB, creates READY, waits for GO to exist, then tries to use each
consent ID once (one write transaction per try) and prints the reasons as a JSON list.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from consentkit import NOW, SUBJECT, scope

from zone.consent import check_and_consume
from zone.state import StateStore


def main(db: str, ready: str, go: str, *ids: str) -> None:
    reasons = []
    with StateStore.open(Path(db)) as store:
        Path(ready).touch()
        deadline = time.monotonic() + 60
        while not Path(go).exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        for consent_id in ids:
            with store.write() as conn:
                [outcome] = check_and_consume(
                    conn, scope(request_id=f"pid-{os.getpid()}"), [(SUBJECT, consent_id)], now=NOW
                )
            reasons.append(outcome.reason)
    print(json.dumps(reasons))


if __name__ == "__main__":
    main(*sys.argv[1:])
