"""Score's circuit in the verification worker processes, so that handler threads stay free.

TenSEAL holds the GIL while it encodes, multiplies, encrypts and serializes, so two Score
calls in one server process take turns on one core (issue 14's batch figure: about 12 ms of
a handler's CPU per call of 2,048 subjects, half of it CKKS). A call of at least
:data:`MIN_SUBJECTS` subjects therefore runs its circuit (``compute.answer_scores``: load the
caller's ciphertexts, plaintext products, the fresh encryption of ``z + e`` and the fill, and
the serialized reply) in one of the worker processes Match uses (``verification.workers``,
spawned, ``workers.MatchWorkers``); the handler thread validates, admits, dispatches, writes
the durable release and replies. Smaller calls, and every call with ``workers: 0``, run in
the handler thread as before (the round trip costs more than it saves for one ciphertext).

What a worker receives: the caller's ciphertexts exactly as checked before admission
(``validate.load_vector``; the worker loads the same bytes), the key's *public* context
(sent once per worker and kept by its SHA-256 digest, the 8 most recent), the model's
public caller weights and noise scale, the zone part ``z`` and the live flags of the
admitted subjects, and any encryptions of zero that were ready (``zeros.ZeroSupply``; each
handed out once, as before). Where none is ready the worker encrypts the protection values
directly under the caller's public key (``score.protect``), with its own CSPRNG draws
(``randomness``: ``os.urandom`` in the worker). No secret key exists on either side. The
worker holds nothing of a call after answering it.

A worker that dies breaks the pool: the call fails (settled failed, not billed) and the next
call gets a new pool (``MatchWorkers``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import tenseal as ts

from zone.products.verification.compute import answer_scores, block_count
from zone.products.verification.models import ScoreModel
from zone.products.verification.replies import ScoreQuery
from zone.products.verification.workers import MatchWorkers
from zone.products.verification.zeros import ZeroSupply
from zone.wire.fresh import FreshZeros
from zone.wire.he_params import PARAM_SETS, ParamSet

F64 = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]

MIN_SUBJECTS = 64
"""Fewest subjects whose circuit goes to a worker (smaller calls run in the handler thread)."""

KEPT_CONTEXTS = 8
"""Public contexts a worker keeps loaded (by digest), and the dispatcher keeps serialized."""


class ContextMissing(Exception):
    """Raised in a worker asked to use a public context it does not hold (sent again with it)."""


@dataclass(frozen=True)
class ScoreTask:
    """One call's circuit, as sent to a worker (public data and the caller's ciphertexts)."""

    digest: str
    context: bytes | None
    param_set: str
    features: tuple[tuple[bytes, ...], ...]
    model: ScoreModel
    zone_part: F64
    live: Flags
    zeros: tuple[bytes, ...]
    lanes: int


_WORKER_CONTEXTS: OrderedDict[str, Any] = OrderedDict()
"""In a worker: public contexts by the SHA-256 of their serialization."""


def _worker_context(task: ScoreTask) -> Any:
    context = _WORKER_CONTEXTS.get(task.digest)
    if context is None:
        if task.context is None:
            raise ContextMissing(task.digest)
        if hashlib.sha256(task.context).hexdigest() != task.digest:
            raise ValueError("the public context does not match its digest")
        context = ts.context_from(task.context, n_threads=1)
        if context.is_private():
            raise ValueError("a worker is never given a secret key")
        _WORKER_CONTEXTS[task.digest] = context
        while len(_WORKER_CONTEXTS) > KEPT_CONTEXTS:
            _WORKER_CONTEXTS.popitem(last=False)
    _WORKER_CONTEXTS.move_to_end(task.digest)
    return context


def run_score(task: ScoreTask) -> tuple[bytes, ...]:
    """In a worker: the serialized replies of one call (``compute.answer_scores``).

    Raises:
        ContextMissing: the worker does not hold the task's public context.
    """
    context = _worker_context(task)
    params = PARAM_SETS[task.param_set]
    features = [[ts.ckks_vector_from(context, blob) for blob in group] for group in task.features]
    zeros = [ts._ts_cpp.CKKSVector(context.data, blob) for blob in task.zeros]
    return answer_scores(
        params, task.model, features, task.zone_part, task.live, zeros, task.lanes, context
    )


def ready() -> bool:
    """In a worker: nothing (unpickling it imports this module and TenSEAL ahead of a call)."""
    return True


class ScoreDispatch:
    """Sends large calls' circuits to the worker processes (see the module docstring)."""

    def __init__(self, workers: MatchWorkers) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._contexts: OrderedDict[str, tuple[Any, bytes, str]] = OrderedDict()
        self.dispatched = 0
        """Calls whose circuit went to a worker (tests check the path a call took)."""

    def warm(self) -> None:
        """Start the workers and import the circuit in them (a key was registered)."""
        self._workers.warm(ready)

    def remote(self, subjects: int) -> bool:
        """Whether a call of ``subjects`` subjects runs its circuit in a worker."""
        return self._workers.size > 0 and subjects >= MIN_SUBJECTS

    def compute(
        self,
        supply: ZeroSupply | FreshZeros,
        query: ScoreQuery,
        context: Any,
        params: ParamSet,
        features: Sequence[Sequence[Any]],
        model: ScoreModel,
        zone_part: F64,
        live: Flags,
        lanes: int,
    ) -> tuple[bytes, ...]:
        """The call's serialized replies: in a worker for large calls, else in this thread.

        ``features`` are the call's ciphertexts as loaded and checked before admission; a
        worker loads the same bytes (``query.features``). Encryptions of zero come from
        ``supply`` where ready.
        """
        blocks = block_count(len(live), params.slot_count)
        if not self.remote(len(live)):
            zeros = supply.take_ready(query.key_id, context, params, blocks)
            return answer_scores(params, model, features, zone_part, live, zeros, lanes, context)
        ready = (
            supply.take_ready_blobs(query.key_id, context, params, blocks)
            if isinstance(supply, ZeroSupply)
            else []
        )
        blobs = [group.blocks for group in query.features]
        return self.answer(
            query.key_id, context, params, blobs, model, zone_part, live, ready, lanes
        )

    def answer(
        self,
        key_id: str,
        context: Any,
        params: ParamSet,
        blobs: Sequence[Sequence[bytes]],
        model: ScoreModel,
        zone_part: F64,
        live: Flags,
        zeros: Sequence[bytes],
        lanes: int,
    ) -> tuple[bytes, ...]:
        """The serialized replies, computed in a worker (``blobs`` already checked).

        Raises:
            BrokenExecutor: a worker died (the pool is replaced for the next call).
        """
        blob, digest = self._serialized(key_id, context)
        with self._lock:
            self.dispatched += 1
        task = ScoreTask(
            digest,
            None,
            params.name,
            tuple(tuple(group) for group in blobs),
            model,
            zone_part,
            live,
            tuple(zeros),
            lanes,
        )
        try:
            return self._workers.call(run_score, task)
        except ContextMissing:
            return self._workers.call(run_score, replace(task, context=blob))

    def _serialized(self, key_id: str, context: Any) -> tuple[bytes, str]:
        with self._lock:
            kept = self._contexts.get(key_id)
            if kept is not None and kept[0] is context:
                self._contexts.move_to_end(key_id)
                return kept[1], kept[2]
        blob = bytes(
            context.serialize(
                save_public_key=True,
                save_secret_key=False,
                save_galois_keys=False,
                save_relin_keys=False,
            )
        )
        digest = hashlib.sha256(blob).hexdigest()
        with self._lock:
            self._contexts[key_id] = (context, blob, digest)
            while len(self._contexts) > KEPT_CONTEXTS:
                self._contexts.popitem(last=False)
        return blob, digest
