"""JobService: DP training jobs through approved products."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from zone._proto import jobs_pb2, jobs_pb2_grpc
from zone.server.call import current_call
from zone.server.servicers import jobs_convert

WATCH_POLL_SECONDS = 0.25


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    """Submit, watch, list, cancel training jobs and fetch their results."""

    def SubmitTraining(
        self, request: jobs_pb2.TrainingRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.Job:
        """Validate, reserve the full epsilon and queue a job."""
        call = current_call()
        call.product = request.product[:128]
        job = call.services.training.submit(
            call.policies,
            call.require_principal(),
            jobs_convert.request_from_proto(request),
            call.request_id,
        )
        return jobs_convert.job_to_proto(job)

    def GetJob(self, request: jobs_pb2.JobRef, context: grpc.ServicerContext) -> jobs_pb2.Job:
        """One of the caller's jobs."""
        call = current_call()
        job = call.services.training.get(call.require_principal(), request.job_id)
        return jobs_convert.job_to_proto(job)

    def WatchJob(
        self, request: jobs_pb2.JobRef, context: grpc.ServicerContext
    ) -> Iterator[jobs_pb2.Job]:
        """Stream the job on every change until it ends or the caller leaves."""
        call = current_call()

        def poll() -> bool:  # woken by any job's change, at the latest after the interval
            call.services.training.wait_for_change(WATCH_POLL_SECONDS)
            return bool(context.is_active())

        for job in call.services.training.watch(call.require_principal(), request.job_id, poll):
            yield jobs_convert.job_to_proto(job)

    def ListJobs(
        self, request: jobs_pb2.ListJobsRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.ListJobsResponse:
        """The caller's jobs (all jobs for admins), newest first."""
        call = current_call()
        jobs = call.services.training.list(call.require_principal(), request.limit)
        return jobs_pb2.ListJobsResponse(jobs=[jobs_convert.job_to_proto(j) for j in jobs])

    def CancelJob(self, request: jobs_pb2.JobRef, context: grpc.ServicerContext) -> jobs_pb2.Job:
        """Cancel a queued or running job; its worker is killed."""
        call = current_call()
        job = call.services.training.cancel(call.require_principal(), request.job_id)
        return jobs_convert.job_to_proto(job)

    def GetResult(
        self, request: jobs_pb2.JobRef, context: grpc.ServicerContext
    ) -> jobs_pb2.TrainingResult:
        """The released model (or its registry id) and DP metrics of a succeeded job."""
        call = current_call()
        job, result = call.services.training.result(call.require_principal(), request.job_id)
        return jobs_convert.result_to_proto(job, result)
