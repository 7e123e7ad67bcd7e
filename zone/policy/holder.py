"""The policy set in force, swapped whole on reload.

A new :class:`PolicySet` is validated whole and swapped in by a single reference assignment,
so every call sees either the old or the new set, never a mix (a call takes one snapshot at its
start). Either outcome of a reload is reported to ``on_reload`` (the audit chain).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zone.errors import ValidationFailed
from zone.policy.engine import PolicySet
from zone.policy.loader import load_policies
from zone.policy.model import ProductRef

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    """Outcome of a successful policy reload."""

    digest: str
    previous_digest: str
    principals: int
    grants: int


class PolicyHolder:
    """The policy set in force and its reload (validated whole, swapped atomically)."""

    def __init__(
        self,
        policies_dir: Path,
        products: Mapping[str, ProductRef],
        datasets: Collection[str],
        on_reload: Callable[[dict[str, Any]], None],
    ) -> None:
        """Load the set in force.

        Raises:
            ValidationFailed: every problem in every policy file.
        """
        self._dir = policies_dir
        self._products = products
        self._datasets = tuple(datasets)
        self._on_reload = on_reload
        self._lock = threading.Lock()
        self._current = self._load()

    @property
    def current(self) -> PolicySet:
        """The policy set in force (an immutable snapshot)."""
        return self._current

    def _load(self) -> PolicySet:
        return load_policies(self._dir, self._products, self._datasets)

    def reload(self) -> ReloadResult:
        """Validate policies/*.yaml and swap them in atomically; report either outcome.

        Raises:
            ValidationFailed: the new set is invalid; the running set stays in force.
        """
        with self._lock:
            previous = self._current
            try:
                new = self._load()
            except ValidationFailed as exc:
                self._on_reload(
                    {
                        "outcome": "rejected",
                        "problems": len(exc.problems),
                        "running_digest": previous.digest,
                    }
                )
                raise
            self._current = new
            self._on_reload(
                {"outcome": "ok", "digest": new.digest, "previous_digest": previous.digest}
            )
        log.info("policies reloaded: %s (was %s)", new.digest, previous.digest)
        return ReloadResult(new.digest, previous.digest, len(new.principals), len(new.grants))
