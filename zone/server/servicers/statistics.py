"""StatisticsService: DP statistics through approved products."""

from __future__ import annotations

import grpc

from zone._proto import statistics_pb2, statistics_pb2_grpc
from zone.server.call import current_call
from zone.server.servicers import stats_convert


class StatisticsServicer(statistics_pb2_grpc.StatisticsServiceServicer):
    """EstimateCost and Query; the budget logic lives in the core service."""

    def EstimateCost(
        self, request: statistics_pb2.StatisticsQuery, context: grpc.ServicerContext
    ) -> statistics_pb2.CostEstimate:
        """Plan the query and report its cost and the caller's remaining budget."""
        call = current_call()
        call.product = request.product[:128]
        query = stats_convert.query_from_proto(request)
        estimate = call.services.statistics.estimate(call.policies, call.require_principal(), query)
        return stats_convert.estimate_to_proto(estimate)

    def Query(
        self, request: statistics_pb2.StatisticsQuery, context: grpc.ServicerContext
    ) -> statistics_pb2.StatisticsResult:
        """Charge the budget, run the query and release the noisy result."""
        call = current_call()
        call.product = request.product[:128]
        query = stats_convert.query_from_proto(request)
        outcome = call.services.statistics.run(
            call.policies, call.require_principal(), query, call.request_id
        )
        return stats_convert.outcome_to_proto(outcome)
