"""The reply digest: the same bytes as its plain definition, whatever the blobs."""

from __future__ import annotations

import hashlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zone.wire.replies import DIGEST_DOMAIN, refusal_group, reply_digest


def plain_digest(kind: str, status: list[int], groups: list[tuple[str, list[bytes]]]) -> str:
    """The definition, one hash update per length and per blob."""
    digest = hashlib.sha256(DIGEST_DOMAIN)
    for data in (kind.encode(), np.asarray(status, dtype=np.int8).tobytes()):
        digest.update(len(data).to_bytes(8, "big") + data)
    for name, blobs in groups:
        data = name.encode()
        digest.update(len(data).to_bytes(8, "big") + data + len(blobs).to_bytes(8, "big"))
        for blob in blobs:
            digest.update(len(blob).to_bytes(8, "big"))
            digest.update(blob)
    return "sha256:" + digest.hexdigest()


large = st.tuples(st.binary(min_size=1, max_size=1), st.integers(65536, 70000))
blob = st.one_of(st.just(b""), st.binary(max_size=40), large.map(lambda pair: pair[0] * pair[1]))


@settings(max_examples=60, deadline=None)
@given(
    status=st.lists(st.integers(1, 5), max_size=20),
    groups=st.lists(st.tuples(st.text(max_size=8), st.lists(blob, max_size=6)), max_size=4),
)
def test_digest_is_the_plain_definition(
    status: list[int], groups: list[tuple[str, list[bytes]]]
) -> None:
    assert reply_digest("score", np.asarray(status), groups) == plain_digest(
        "score", status, groups
    )


def test_empty_and_nonempty_refusals_differ_as_the_definition_says() -> None:
    empty = [("consent_refusals", [b""] * 2048)]
    one = [("consent_refusals", [b""] * 2047 + [b"expired"])]
    status = np.ones(2048, dtype=np.int8)
    assert reply_digest("match", status, empty) == plain_digest("match", [1] * 2048, empty)
    assert reply_digest("match", status, one) == plain_digest("match", [1] * 2048, one)
    assert reply_digest("match", status, empty) != reply_digest("match", status, one)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["", "", "expired", "no_consent", "é"]), max_size=30))
def test_refusal_group_encodes_every_reason(refusals: list[str]) -> None:
    name, blobs = refusal_group(refusals)
    assert name == "consent_refusals" and blobs == [r.encode("utf-8") for r in refusals]
