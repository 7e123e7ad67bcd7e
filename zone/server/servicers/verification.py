"""VerificationService: Match over an oblivious PRF; registered keys and encrypted scoring."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from zone._proto import verification_pb2, verification_pb2_grpc
from zone.server.call import current_call
from zone.server.servicers import verification_convert as convert


class VerificationServicer(verification_pb2_grpc.VerificationServiceServicer):
    """Thin shell around ``services.verification`` (zone.products.verification.service)."""

    def RegisterKey(
        self, request_iterator: Iterator[verification_pb2.KeyChunk], context: grpc.ServicerContext
    ) -> verification_pb2.KeyInfo:
        """Check and store an uploaded public context for the caller."""
        call = current_call()
        info = call.services.verification.register_key(
            call.require_principal(), convert.upload_chunks(request_iterator), call.request_id
        )
        return convert.key_info(info)

    def DescribeKey(
        self, request: verification_pb2.KeyRef, context: grpc.ServicerContext
    ) -> verification_pb2.KeyInfo:
        """One of the caller's keys."""
        call = current_call()
        keys = call.services.verification.keys
        return convert.key_info(keys.describe(call.require_principal().id, request.key_id))

    def RevokeKey(
        self, request: verification_pb2.KeyRef, context: grpc.ServicerContext
    ) -> verification_pb2.KeyInfo:
        """Revoke one of the caller's keys."""
        call = current_call()
        verification = call.services.verification
        info = verification.revoke_key(call.require_principal(), request.key_id, call.request_id)
        return convert.key_info(info)

    def Match(
        self, request: verification_pb2.MatchRequest, context: grpc.ServicerContext
    ) -> verification_pb2.MatchReply:
        """Answer blinded claims against the dataset."""
        call = current_call()
        call.product = request.product[:128]
        answer = call.services.verification.match(
            call.policies, call.require_principal(), convert.match_query(request), call.request_id
        )
        return convert.match_reply(answer)

    def Score(
        self, request: verification_pb2.ScoreRequest, context: grpc.ServicerContext
    ) -> verification_pb2.ScoreReply:
        """Score subjects with encrypted caller features and the zone's own."""
        call = current_call()
        call.product = request.product[:128]
        answer = call.services.verification.score(
            call.policies, call.require_principal(), convert.score_query(request), call.request_id
        )
        return convert.score_reply(answer)
