"""CohortService: operators' cohorts for joint training (upload, describe, list, erase)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from zone._proto import cohorts_pb2, cohorts_pb2_grpc, jobs_pb2
from zone.server.call import current_call
from zone.server.servicers import cohorts_convert as convert
from zone.server.servicers import jobs_convert


class CohortServicer(cohorts_pb2_grpc.CohortServiceServicer):
    """Thin shell around ``services.joint`` (zone.products.joint)."""

    def EstimateCost(
        self, request: cohorts_pb2.JointTrainingRequest, context: grpc.ServicerContext
    ) -> cohorts_pb2.JointEstimate:
        """Public facts of a joint job; a charged DP matched count only when asked for."""
        call = current_call()
        call.product = request.product[:128]
        estimate = call.services.joint.estimate(
            call.policies,
            call.require_principal(),
            convert.request_from_proto(request),
            call.request_id,
            dp_match_count=request.dp_match_count,
        )
        return convert.estimate_to_proto(estimate)

    def SubmitTraining(
        self, request: cohorts_pb2.JointTrainingRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.Job:
        """Validate, reserve the full epsilon and queue a joint job on the caller's cohort."""
        call = current_call()
        call.product = request.product[:128]
        job = call.services.joint.submit_joint(
            call.policies,
            call.require_principal(),
            convert.request_from_proto(request),
            call.request_id,
        )
        return jobs_convert.job_to_proto(job)

    def UploadCohort(
        self, request_iterator: Iterator[cohorts_pb2.CohortChunk], context: grpc.ServicerContext
    ) -> cohorts_pb2.Cohort:
        """Receive, check and store a cohort; nothing is stored unless all of it is valid."""
        call = current_call()
        info = call.services.joint.cohorts.upload(
            call.policies,
            call.require_principal(),
            convert.upload_chunks(request_iterator),
            call.request_id,
        )
        call.product = info.product
        return convert.cohort_to_proto(info)

    def DescribeCohort(
        self, request: cohorts_pb2.CohortRef, context: grpc.ServicerContext
    ) -> cohorts_pb2.Cohort:
        """One of the caller's uploads."""
        call = current_call()
        info = call.services.joint.describe_cohort(call.require_principal(), request.upload_id)
        return convert.cohort_to_proto(info)

    def ListCohorts(
        self, request: cohorts_pb2.ListCohortsRequest, context: grpc.ServicerContext
    ) -> cohorts_pb2.ListCohortsResponse:
        """The caller's uploads, newest first."""
        call = current_call()
        limit = max(1, min(request.limit or 100, 1000))
        infos = call.services.joint.cohorts.store.list(call.require_principal().id, limit)
        return cohorts_pb2.ListCohortsResponse(cohorts=[convert.cohort_to_proto(i) for i in infos])

    def EraseCohort(
        self, request: cohorts_pb2.CohortRef, context: grpc.ServicerContext
    ) -> cohorts_pb2.Cohort:
        """Erase one of the caller's uploads now (a job reading it is cancelled)."""
        call = current_call()
        info = call.services.joint.erase_cohort(
            call.require_principal(), request.upload_id, call.request_id
        )
        return convert.cohort_to_proto(info)
