"""A user's stop and delete requests, recorded on the job with the command they send."""

from __future__ import annotations

from datetime import UTC, datetime

from jobyard_contracts import DeleteJob, StopJob
from jobyard_store import Change, JobDocument


class JobAlreadyFinishedError(Exception):
    def __init__(self, job: JobDocument) -> None:
        super().__init__(f"job {job.id} is already {job.status}; there is nothing to stop")


def request_stop(job: JobDocument) -> Change | None:
    if job.status.is_terminal:
        raise JobAlreadyFinishedError(job)
    if job.stop_requested_at is not None:
        return None
    requested = job.model_copy(update={"stop_requested_at": datetime.now(UTC)})
    return Change(requested, [StopJob()])


def request_delete(job: JobDocument) -> Change | None:
    """From this write on the job is a 404; the scheduler stops and purges it."""
    if job.deleted_at is not None:
        return None
    return Change(job.model_copy(update={"deleted_at": datetime.now(UTC)}), [DeleteJob()])
