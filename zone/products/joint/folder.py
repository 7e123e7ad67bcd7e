"""One cohort folder for every replica: a marker file bound to the shared state database.

Replicas on one PostgreSQL state serve the same cohorts, so they must read and shred the same
files: ``joint.cohorts_dir`` is a folder they all mount (docs/DEPLOY.md). A replica started
with a folder of its own would not find cohorts uploaded elsewhere, and, worse, a replica
starting alone would take their files for lost and receipt them erased. So the first replica
to start writes a random id into the folder's marker file (``.zone-cohorts``, 0600) and records
it in the state (``shared_folders``, migration 0020), in one write transaction; every later
start compares the two and refuses a folder whose marker is missing or differs. The marker
holds no cohort value and is the one ``.`` file the start-up shredding keeps.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from zone.audit import utc_timestamp
from zone.errors import FailedPrecondition
from zone.products.joint import files
from zone.state.api import State

MARKER = ".zone-cohorts"
NAME = "cohorts"


def bind_folder(state: State, directory: Path) -> str:
    """Check (or, on the first start, make) the binding of ``directory`` to ``state``.

    Returns:
        The folder's id.

    Raises:
        FailedPrecondition: the folder is not the one the state's replicas share (its marker
            is missing, or names another folder); nothing is written.
    """
    marker = directory / MARKER
    with state.write() as tx:  # the write lock: replicas starting together bind one id
        row = tx.execute("SELECT folder_id FROM shared_folders WHERE name = ?", (NAME,)).fetchone()
        found = marker.read_text(encoding="ascii").strip() if marker.exists() else None
        if row is None:
            folder_id = found or _write_marker(marker)
            tx.execute(
                "INSERT INTO shared_folders (name, folder_id, created_at) VALUES (?, ?, ?)",
                (NAME, folder_id, utc_timestamp()),
            )
            return folder_id
        if found != row[0]:
            state_of = "has no marker" if found is None else "carries another folder's marker"
            raise FailedPrecondition(
                f"joint.cohorts_dir {directory} {state_of} ({MARKER}): it is not the cohort "
                "folder this zone's replicas share; mount the shared folder there "
                "(docs/DEPLOY.md)",
                reason="cohort_folder_not_shared",
            )
        return str(row[0])


def _write_marker(marker: Path) -> str:
    folder_id = uuid.uuid4().hex
    fd = files.create_private(marker)
    try:
        os.write(fd, f"{folder_id}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    files.fsync_directory(marker.parent)
    return folder_id
