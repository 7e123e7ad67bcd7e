"""Noise multipliers calibrated by earlier jobs, handed to the next job with the same numbers.

A worker calibrates DP-SGD's noise (``dpsgd.calibrate``) by searching with Opacus's PRV
accountant: about ten accountings, 1-1.5 s of a 3-4 s job on UCI Adult, the same every time for
the same public numbers (the target training epsilon, delta, sample rate, number of steps and
accountant), because the search is deterministic. The server (which may not import Opacus)
remembers the noise multiplier each succeeded job released for its numbers and puts it in the
next such job's spec as ``noise_multiplier_hint``; that worker confirms it with one accounting
and skips the search, or searches if the accountant does not confirm it.

The guarantee does not rest on the hint: a job uses a hinted noise multiplier only if the PRV
accountant puts its whole run at or below the job's training epsilon, the check every searched
noise multiplier passes too, and its engine's history is checked after training as before. The
numbers are public (the noise multiplier is part of every release) and come from the zone's own
workers, never from a caller. The memory is per process, bounded, and lost at a restart.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from zone.products.training.spec import TrainingSpec

Key = tuple[float, float, float, int, str]
MAX_ENTRIES = 1024


def calibration_key(spec: TrainingSpec) -> Key:
    """What ``dpsgd.calibrate``'s noise multiplier depends on (public numbers only)."""
    return (spec.epsilon_training, spec.delta, spec.sample_rate, spec.steps, spec.accountant)


class NoiseHints:
    """A bounded map from calibration numbers to the noise multiplier calibrated for them.

    Thread-safe: jobs are submitted on the server's call threads and settled on the executor's
    event thread.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        """Create an empty map that keeps at most ``max_entries`` (the least recently used go)."""
        self._max = max_entries
        self._lock = threading.Lock()
        self._known: OrderedDict[Key, float] = OrderedDict()
        self._pending: dict[str, Key] = {}

    def hinted(self, spec: TrainingSpec) -> TrainingSpec:
        """``spec`` with the noise multiplier known for its numbers, if one is."""
        key = calibration_key(spec)
        with self._lock:
            hint = self._known.get(key)
            if hint is not None:
                self._known.move_to_end(key)
        return spec if hint is None else replace(spec, noise_multiplier_hint=hint)

    def expect(self, job_id: str, spec: TrainingSpec) -> None:
        """Remember which numbers job ``job_id`` calibrates for (until :meth:`learn`)."""
        with self._lock:
            self._pending[job_id] = calibration_key(spec)

    def learn(self, job_id: str, result: Mapping[str, Any] | None) -> None:
        """Forget job ``job_id``; with its ``result``, remember the noise multiplier it used."""
        with self._lock:
            key = self._pending.pop(job_id, None)
            if key is None or result is None:
                return
            sigma = result.get("noise_multiplier")
            if isinstance(sigma, bool) or not isinstance(sigma, float | int):
                return
            if not (math.isfinite(sigma) and sigma > 0):
                return
            self._known[key] = float(sigma)
            self._known.move_to_end(key)
            while len(self._known) > self._max:
                self._known.popitem(last=False)
