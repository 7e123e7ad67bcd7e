"""Uploads of cohorts and their erasure with a receipt (no grpc, no torch).

Upload (:meth:`Cohorts.upload`): the first chunk is the schema; it is checked whole (and against
the product, which must be granted) before a byte of data is read, so a refusal reads nothing.
The data chunks go to a private file (0600) while being counted and hashed, up to
``max_upload_bytes``; the end marker must give the same byte count and SHA-256 (a truncated
stream, or one cut by the client, the deadline or the server's stream limit, never reaches
the store). The CSV is then checked whole (``csvload``) and written as the cohort file, which
is fsynced and renamed into place; only then is the record written (with its ``cohort.upload``
audit record: digest, rows, names, never values). Whatever happens, the raw bytes and DuckDB's
spill directory are shredded before the call returns; a server killed mid-upload leaves only
files whose names start with ``.``, shredded at the next start (:meth:`Cohorts.recover`).

Erasure (:meth:`Cohorts.erase`): the cohort file and any work directory are shredded
(``files.shred``), then, in one durable transaction, the record is marked erased and the
erasure receipt is appended to the audit chain as a ``release`` entry (epsilon 0), which
``ReceiptService.GetReceipt`` serves with its inclusion proof and ``zone receipt verify``
checks offline. Erasure is serialised per upload and happens exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from zone import __version__
from zone.access import authorize_product
from zone.audit import canonical_json
from zone.catalog import DatasetCatalog, JointTrainingProduct, Product
from zone.config import JointConfig
from zone.errors import InvalidArgument, Problem, ValidationFailed
from zone.policy import PolicySet, Principal
from zone.products.joint import files
from zone.products.joint.csvload import load_cohort
from zone.products.joint.folder import MARKER, bind_folder
from zone.products.joint.schema import CohortSchema, parse_schema, product_problems
from zone.products.joint.store import CohortInfo, CohortStore, expiry, timestamp
from zone.state.api import State

log = logging.getLogger(__name__)

Chunk = tuple[str, Any]
"""("schema", mapping) first, then ("data", bytes)..., then ("end", (total_bytes, sha256 hex))."""
DELETED = (
    "the cohort file (keys, labels, operator features): overwritten with zeros, fsynced, unlinked",
    "the job's work files, if any",
)
RETAINED = (
    "the upload record: id, owner, product, dataset version, declared schema (names, public "
    "bounds and domains, purpose), SHA-256 of the uploaded bytes, row count, times",
    "audit records (digests and counts only)",
    "what was released or kept from jobs on the cohort (DP models, DP metrics)",
)


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed([Problem("cohort", None, message)], what="receiving the cohort")


class Cohorts:
    """Receive, describe and erase uploaded cohorts."""

    def __init__(
        self,
        products: Mapping[str, Product],
        catalog: DatasetCatalog,
        config: JointConfig,
        *,
        state: State,
        store: CohortStore,
        shared: bool = False,
    ) -> None:
        self._products = products
        self._catalog = catalog
        self._config = config
        self._state = state
        self._store = store
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self.directory = files.ensure_directory(config.cohorts_dir)
        if shared:  # replicas on one state: the folder must be the one they all mount
            bind_folder(state, self.directory)

    @property
    def store(self) -> CohortStore:
        """The upload records."""
        return self._store

    def path(self, info: CohortInfo) -> Path:
        """Where a stored cohort's file is."""
        return self.directory / info.file

    def work_dir(self, upload_id: str) -> Path:
        """A private spill directory for DuckDB work on one upload (shredded with it)."""
        return self.directory / f"{files.PARTIAL_PREFIX}work-{upload_id}"

    # --- upload ---------------------------------------------------------------------------

    def upload(
        self, policies: PolicySet, principal: Principal, chunks: Iterator[Chunk], request_id: str
    ) -> CohortInfo:
        """Receive, check and store a cohort; see the module docstring.

        Raises:
            InvalidArgument: the schema, the stream or the CSV is refused (every problem,
                counts and row numbers, never values); nothing is stored.
            PermissionDenied: the product is not granted (nothing was read).
        """
        schema, product = self._schema(policies, principal, next(chunks, ("", None)))
        upload_id = uuid.uuid4().hex
        raw = self.directory / f"{files.PARTIAL_PREFIX}upload-{upload_id}.csv"
        staged = self.directory / f"{files.PARTIAL_PREFIX}upload-{upload_id}{files.SUFFIX}"
        work = self.work_dir(upload_id)
        try:
            size, digest = self._receive(chunks, raw)
            work.mkdir(mode=0o700)
            info = self._info(upload_id, principal, schema, product, digest, size)
            rows = load_cohort(
                raw, staged, schema, product, integer_key=self._integer_key(product), work_dir=work
            )
            files.shred(raw)
            info = CohortInfo(**{**info.__dict__, "rows": rows})
            files.place(staged, self.directory / info.file)
            try:
                self._store.insert(info, request_id)
            except BaseException:
                files.shred(self.directory / info.file)
                raise
            return info
        finally:
            files.shred(raw)
            files.shred(staged)
            files.shred_tree(work)

    def _schema(
        self, policies: PolicySet, principal: Principal, first: Chunk
    ) -> tuple[CohortSchema, JointTrainingProduct]:
        kind, data = first
        if kind != "schema":
            raise _refused("the first chunk of an upload must be its schema")
        schema, problems = parse_schema(data)
        if schema is None:
            raise ValidationFailed(
                [Problem(f"schema.{'.'.join(map(str, loc))}", None, m) for loc, m in problems],
                what="checking the cohort schema",
            )
        product, _ = authorize_product(
            policies, principal, self._products, schema.product, JointTrainingProduct
        )
        refusals = product_problems(schema, product)
        if refusals:
            raise ValidationFailed(
                [Problem("schema", None, m) for m in refusals], what="checking the cohort schema"
            )
        return schema, product

    def _receive(self, chunks: Iterator[Chunk], raw: Path) -> tuple[int, str]:
        writer = files.DigestingWriter(raw, self._config.max_upload_bytes)
        end: tuple[int, str] | None = None
        try:
            for kind, data in chunks:
                if end is not None or kind not in ("data", "end"):
                    raise _refused("after the schema an upload sends data chunks, then one end")
                if kind == "end":
                    end = data
                elif not writer.write(data):
                    limit = self._config.max_upload_bytes
                    raise _refused(f"the upload exceeds the zone's limit of {limit} bytes")
        finally:
            writer.close()
        if end is None:
            raise _refused("the upload ended before its end marker (truncated)")
        total, sha256 = end
        if total != writer.size or sha256.lower() != writer.hexdigest:
            raise _refused("the bytes received differ from the end marker's count or SHA-256")
        if writer.size == 0:
            raise _refused("the upload is empty")
        return writer.size, "sha256:" + writer.hexdigest

    def _integer_key(self, product: JointTrainingProduct) -> bool:
        meta = self._catalog.get(product.dataset).meta
        return meta.columns[product.key].type == "integer"

    def _info(
        self,
        upload_id: str,
        principal: Principal,
        schema: CohortSchema,
        product: JointTrainingProduct,
        digest: str,
        size: int,
    ) -> CohortInfo:
        created = timestamp()
        return CohortInfo(
            upload_id=upload_id,
            owner=principal.id,
            product=product.id,
            dataset=product.dataset,
            dataset_version=self._catalog.get(product.dataset).version,
            schema=schema,
            digest=digest,
            rows=0,
            size_bytes=size,
            file=f"{upload_id}{files.SUFFIX}",
            state="stored",
            created_at=created,
            expires_at=expiry(created, product.retention_hours),
        )

    # --- reading --------------------------------------------------------------------------

    def describe(self, principal: Principal, upload_id: str) -> CohortInfo:
        """One of the caller's uploads (admins included: only owners see uploads).

        Raises:
            NotFound: unknown, or another principal's (the same answer).
        """
        if not isinstance(upload_id, str) or not 1 <= len(upload_id) <= 64:
            raise InvalidArgument("upload_id must be 1 to 64 characters")
        return self._store.get(upload_id, owner=principal.id)

    # --- erasure --------------------------------------------------------------------------

    def lock(self, upload_id: str) -> threading.RLock:
        """The lock serialising erasure of an upload with jobs claiming it (reentrant)."""
        with self._locks_guard:
            return self._locks.setdefault(upload_id, threading.RLock())

    def erase(
        self, upload_id: str, *, trigger: str, request_id: str, policy_digest: str
    ) -> CohortInfo:
        """Shred the cohort's files and write its erasure receipt (once); return the record.

        The caller has made sure no job still reads it (``JointJobs`` cancels such jobs).
        """
        with self.lock(upload_id):
            info = self._store.get(upload_id)
            if info.state != "stored":
                return info
            overwritten = files.shred(self.path(info)) + files.shred_tree(self.work_dir(upload_id))
            receipt = self._receipt(info, trigger, request_id, policy_digest, overwritten)
            with self._state.write() as tx:
                self._store.mark_erased(info, receipt, trigger, tx=tx)
            log.info("cohort %s erased (%s)", upload_id, trigger)
            return self._store.get(upload_id)

    def _receipt(
        self,
        info: CohortInfo,
        trigger: str,
        request_id: str,
        policy_digest: str,
        overwritten: int,
    ) -> dict[str, Any]:
        statement = {
            "upload_id": info.upload_id,
            "upload_digest": info.digest,
            "rows": info.rows,
            "size_bytes": info.size_bytes,
            "uploaded_at": info.created_at,
            "erased_at": timestamp(),
            "trigger": trigger,
            "bytes_overwritten": overwritten,
            "deleted": list(DELETED),
            "retained": list(RETAINED),
        }
        digest = hashlib.sha256(canonical_json(statement).encode()).hexdigest()
        return {
            "release_id": uuid.uuid4().hex,
            "request_id": request_id,
            "time": statement["erased_at"],
            "principal": info.owner,
            "product": info.product,
            "dataset": info.dataset,
            "dataset_version": info.dataset_version,
            "policy_digest": policy_digest,
            "code_version": __version__,
            "epsilon_micro": 0,
            "delta_femto": 0,
            "output_digest": "sha256:" + digest,
            "kind": "cohort.erasure",
            **statement,
        }

    def recover(self, policy_digest: str) -> dict[str, int]:
        """After a restart: shred leftovers of interrupted uploads and files without a record.

        Stored records whose file is missing (a crash between shredding and the receipt) are
        receipted now (trigger ``restart``). Returns counts for the start-up audit record.
        """
        known = self._store.known_files()
        leftovers = 0
        for path in sorted(self.directory.iterdir()):
            if path.name == MARKER:
                continue
            if path.name.startswith(files.PARTIAL_PREFIX) or path.name not in known:
                files.shred_tree(path)
                leftovers += 1
        missing = 0
        for info in self._store.stored():
            if not self.path(info).exists():
                self.erase(
                    info.upload_id, trigger="restart", request_id="", policy_digest=policy_digest
                )
                missing += 1
        return {"leftover_files_shredded": leftovers, "missing_files_receipted": missing}
