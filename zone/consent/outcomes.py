"""The consent outcome of a call's subjects: one reason and one consent label per subject.

A call of thousands of subjects under a product declared ``consent: none`` admits every one;
:class:`ConsentOutcomes` keeps that as two lists, not as an object per subject, and answers the
admission's questions (which subjects were admitted, what the caller is told, what the receipt
says) from them. It is also a sequence of :class:`SubjectConsent`, made on access.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from zone.consent.terms import ConsentReason


class SubjectConsent(NamedTuple):
    """The consent outcome of one subject.

    Attributes:
        subject: The subject key, as requested.
        reason: ``ok``, or the precise reason it was refused (for the audit record).
        consent: The consent used (``id`` or ``issuer/id``); None when refused or when the
            product needs no consent.
    """

    subject: str
    reason: ConsentReason
    consent: str | None = None

    @property
    def admitted(self) -> bool:
        """Whether the subject may be checked."""
        return self.reason == "ok"

    @property
    def public_reason(self) -> ConsentReason:
        """The reason the caller is told: another operator's consent reads as ``unknown``."""
        return public_reason(self.reason)


def public_reason(reason: ConsentReason) -> ConsentReason:
    """What the caller is told: another operator's consent reads as ``unknown``."""
    return "unknown" if reason == "wrong_principal" else reason


class ConsentOutcomes(Sequence[SubjectConsent]):
    """Per subject, in request order: the reason (``ok`` when admitted) and the consent used."""

    def __init__(
        self,
        subjects: Sequence[str],
        reasons: Sequence[ConsentReason],
        consents: Sequence[str | None],
    ) -> None:
        if not len(subjects) == len(reasons) == len(consents):
            raise ValueError("one reason and one consent per subject")
        self.subjects = tuple(subjects)
        self.reasons = tuple(reasons)
        self.consents = tuple(consents)
        self._refused = {i for i, r in enumerate(self.reasons) if r != "ok"}

    def __len__(self) -> int:
        return len(self.subjects)

    @overload
    def __getitem__(self, index: int) -> SubjectConsent: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SubjectConsent]: ...

    def __getitem__(self, index: int | slice) -> SubjectConsent | Sequence[SubjectConsent]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return SubjectConsent(self.subjects[index], self.reasons[index], self.consents[index])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Iterator[SubjectConsent]:
        return map(SubjectConsent, self.subjects, self.reasons, self.consents)

    @property
    def admitted(self) -> npt.NDArray[np.bool_]:
        """Per subject, whether it may be checked."""
        mask = np.ones(len(self), dtype=bool)
        mask[sorted(self._refused)] = False
        return mask

    @property
    def admitted_subjects(self) -> list[str]:
        """The subjects admitted, in request order."""
        if not self._refused:
            return list(self.subjects)
        return [s for i, s in enumerate(self.subjects) if i not in self._refused]

    @property
    def admitted_consents(self) -> list[str | None]:
        """The consent each admitted subject used, aligned with :attr:`admitted_subjects`."""
        return [c for i, c in enumerate(self.consents) if i not in self._refused]

    def public_reasons(self) -> tuple[str, ...]:
        """Per subject the reason the caller is told, ``""`` where it was admitted."""
        told = [""] * len(self)
        for i in self._refused:
            told[i] = public_reason(self.reasons[i])
        return tuple(told)

    def refusals(self, *, public: bool = False) -> dict[str, int]:
        """Refused subjects by reason (precise, or as the caller is told), sorted."""
        counts: dict[str, int] = {}
        for i in self._refused:
            reason = public_reason(self.reasons[i]) if public else self.reasons[i]
            counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items()))

    def used(self) -> list[str]:
        """The consents used, sorted, each once."""
        return sorted({c for c in self.consents if c is not None})

    def receipt_fields(self) -> dict[str, Any]:
        """Consents used and refusals by precise reason (for audit records)."""
        return {"consents": self.used(), "consent_refusals": self.refusals()}
