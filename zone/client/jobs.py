"""Training jobs from the SDK: ``client.train(...)`` returns a :class:`JobHandle`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf import json_format

from zone._proto import jobs_pb2

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


@dataclass(frozen=True)
class JobStatus:
    """A job as the zone reports it."""

    job_id: str
    product: str
    principal: str
    state: str
    epoch: int
    epochs: int
    epsilon_spent: float
    reserved_epsilon: float
    reserved_delta: float
    reason: str
    created_at: str
    started_at: str
    finished_at: str

    @property
    def done(self) -> bool:
        """The job has ended (succeeded, failed or cancelled)."""
        return self.state in TERMINAL


@dataclass(frozen=True)
class TrainingResult:
    """A released model (or, kept in the zone, only its id) and its DP metrics."""

    job_id: str
    release_id: str
    family: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    layers: tuple[dict[str, Any], ...]
    scaling: dict[str, Any]
    metrics: dict[str, float]
    metrics_mechanism: str
    charged_epsilon: float
    charged_delta: float
    epsilon_training: float
    epsilon_metrics: float
    accountant: str
    device: str
    model_id: str
    output_digest: str
    guarantee: str


def status_from_proto(j: jobs_pb2.Job) -> JobStatus:
    """Typed view of a Job message."""
    return JobStatus(
        job_id=j.job_id,
        product=j.product,
        principal=j.principal,
        state=jobs_pb2.JobState.Name(j.state),
        epoch=j.epoch,
        epochs=j.epochs,
        epsilon_spent=j.epsilon_spent,
        reserved_epsilon=j.reserved.epsilon,
        reserved_delta=j.reserved.delta,
        reason=j.reason,
        created_at=j.created_at,
        started_at=j.started_at,
        finished_at=j.finished_at,
    )


def result_from_proto(r: jobs_pb2.TrainingResult) -> TrainingResult:
    """Typed view of a TrainingResult message."""
    return TrainingResult(
        job_id=r.job_id,
        release_id=r.release_id,
        family=r.family,
        features=tuple(r.features),
        weights=tuple(r.weights),
        intercept=r.intercept,
        layers=tuple(
            {
                "rows": layer.rows,
                "cols": layer.cols,
                "weights": list(layer.weights),
                "bias": list(layer.bias),
            }
            for layer in r.layers
        ),
        scaling=json_format.MessageToDict(r.scaling),
        metrics=dict(r.metrics),
        metrics_mechanism=r.metrics_mechanism,
        charged_epsilon=r.charged.epsilon,
        charged_delta=r.charged.delta,
        epsilon_training=r.epsilon_training,
        epsilon_metrics=r.epsilon_metrics,
        accountant=r.accountant,
        device=r.device,
        model_id=r.model_id,
        output_digest=r.output_digest,
        guarantee=r.guarantee,
    )


class JobCalls(Protocol):
    """The client calls a :class:`JobHandle` makes (``ZoneClient`` has them)."""

    def get_job(self, job_id: str) -> JobStatus:
        """One job's status."""
        ...

    def watch_job(self, job_id: str) -> Iterator[JobStatus]:
        """The job's status at each change, until it ends."""
        ...

    def get_result(self, job_id: str) -> TrainingResult:
        """The released result of a succeeded job."""
        ...

    def cancel_job(self, job_id: str) -> JobStatus:
        """Cancel the job."""
        ...


class JobHandle:
    """A submitted training job."""

    def __init__(self, client: JobCalls, status: JobStatus) -> None:
        self._client = client
        self.job_id = status.job_id
        self.last = status

    def status(self) -> JobStatus:
        """The job now."""
        self.last = self._client.get_job(self.job_id)
        return self.last

    def watch(self) -> Iterator[JobStatus]:
        """Each change of the job (state, epoch, epsilon spent) until it ends."""
        for status in self._client.watch_job(self.job_id):
            self.last = status
            yield status

    def wait(self, on_change: Callable[[JobStatus], None] | None = None) -> JobStatus:
        """Block until the job ends; return its last status."""
        for status in self.watch():
            if on_change is not None:
                on_change(status)
        return self.last

    def result(self) -> TrainingResult:
        """Wait for the job and return its result (raises if it did not succeed)."""
        if not self.last.done:
            self.wait()
        return self._client.get_result(self.job_id)

    def cancel(self) -> JobStatus:
        """Cancel the job; its worker is killed."""
        self.last = self._client.cancel_job(self.job_id)
        return self.last
