"""The server side of joint modeling never loads torch or opacus (training runs in workers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_server_and_joint_service_do_not_import_torch() -> None:
    code = (
        "import sys, zone.server.app, zone.products.joint.service, zone.products.joint.cohorts, "
        "zone.products.joint.estimate, zone.server.servicers.cohorts; "
        "loaded = {'torch', 'opacus'} & set(sys.modules); assert not loaded, loaded"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
