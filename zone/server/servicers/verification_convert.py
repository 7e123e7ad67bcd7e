"""Proto <-> domain conversion for VerificationService."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from zone._proto import verification_pb2
from zone.products.verification.keys import KeyInfo
from zone.products.verification.replies import (
    BlindedClaim,
    Ciphertexts,
    MatchAnswer,
    MatchQuery,
    ScoreAnswer,
    ScoreQuery,
)
from zone.wire.replies import Codes


def upload_chunks(chunks: Iterable[verification_pb2.KeyChunk]) -> Iterator[tuple[str, bytes]]:
    """The (parameter set, bytes) pairs of a RegisterKey stream, read lazily."""
    for chunk in chunks:
        yield chunk.param_set, chunk.data


def key_info(info: KeyInfo) -> verification_pb2.KeyInfo:
    """KeyInfo message of a registered key."""
    return verification_pb2.KeyInfo(
        key_id=info.key_id,
        param_set=info.param_set,
        scheme=info.scheme,
        size_bytes=info.size_bytes,
        sha256=info.sha256,
        created_at=info.created_at,
        revoked_at=info.revoked_at or "",
    )


def _groups(messages: Iterable[verification_pb2.Ciphertexts]) -> tuple[Ciphertexts, ...]:
    return tuple(Ciphertexts(m.name, tuple(m.blocks)) for m in messages)


def match_query(request: verification_pb2.MatchRequest) -> MatchQuery:
    """The domain query of a MatchRequest."""
    return MatchQuery(
        product=request.product,
        purpose=request.purpose,
        subjects=tuple(request.subjects),
        claims=tuple(BlindedClaim(c.name, c.elements) for c in request.blinded),
        consents=tuple(request.consents),
    )


def score_query(request: verification_pb2.ScoreRequest) -> ScoreQuery:
    """The domain query of a ScoreRequest."""
    return ScoreQuery(
        product=request.product,
        key_id=request.key_id,
        purpose=request.purpose,
        model_id=request.model_id,
        subjects=tuple(request.subjects),
        features=_groups(request.features),
        consents=tuple(request.consents),
        lanes=request.lanes,
    )


def _status(status: Codes) -> list[verification_pb2.SubjectStatus]:
    codes: list[verification_pb2.SubjectStatus] = status.tolist()  # the same numbers
    return codes


def match_reply(answer: MatchAnswer) -> verification_pb2.MatchReply:
    """MatchReply of an answer."""
    return verification_pb2.MatchReply(
        release_id=answer.release_id,
        status=_status(answer.status),
        evaluated=[
            verification_pb2.EvaluatedClaim(
                name=c.name, tolerance=c.tolerance, evaluations=c.evaluations
            )
            for c in answer.claims
        ],
        consent_refusals=list(answer.consent_refusals),
        membership=answer.membership,
        dataset_version=answer.dataset_version,
        output_digest=answer.output_digest,
    )


def score_reply(answer: ScoreAnswer) -> verification_pb2.ScoreReply:
    """ScoreReply of an answer."""
    return verification_pb2.ScoreReply(
        release_id=answer.release_id,
        status=_status(answer.status),
        logits=list(answer.logits),
        slots=answer.slots,
        link=answer.link,
        noise_stddev=answer.noise_stddev,
        model=answer.model,
        dataset_version=answer.dataset_version,
        output_digest=answer.output_digest,
        consent_refusals=list(answer.consent_refusals),
        lanes=answer.lanes,
    )
