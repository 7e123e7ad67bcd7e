"""Models follow their data: which approvals let a kept model score on the version served."""

from __future__ import annotations

import pytest

from zone.errors import FailedPrecondition
from zone.models.lineage import may_serve, require_serving
from zone.models.reviews import ModelDecision

V1, V2, V3 = ("sha256:" + d * 64 for d in "123")


def decision(verdict: str, version: str) -> ModelDecision:
    return ModelDecision("m1", "capital-match", verdict, "why", "zone-admin",  # type: ignore[arg-type]
                         "sha256:r", "2026-12-06T00:00:00Z", version)  # fmt: skip


@pytest.mark.parametrize(
    ("trained", "serving", "made", "allowed"),
    [
        (V1, V1, decision("approved", V1), True),  # approved on its own version
        (V1, V2, decision("approved", V1), False),  # a new version is served
        (V1, V2, decision("approved", V2), True),  # approved again for it
        (V1, V3, decision("approved", V2), False),  # an approval is for one version
        (V1, V1, decision("approved", V2), True),  # rolled back to the training version
        (V1, V1, decision("approved", ""), True),  # an approval from before migration 0016
        (V1, V2, decision("approved", ""), False),
        (V1, V1, decision("rejected", V1), False),
        (V1, V1, None, False),
        ("", V1, decision("approved", V1), True),  # no recorded version: the approval's
        ("", V1, decision("approved", ""), False),
    ],
)
def test_may_serve(trained: str, serving: str, made: ModelDecision | None, allowed: bool) -> None:
    assert may_serve(trained, serving, made) is allowed


def test_the_refusal_names_both_versions() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        require_serving("m1", V1, V2, decision("approved", V1))
    assert refused.value.reason == "model_version_changed"
    assert V1 in refused.value.message and V2 in refused.value.message
