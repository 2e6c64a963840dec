"""A user's stop, cancel, pause, resume and delete requests, recorded on the job with the
command they send. A request the job's state does not allow raises `NotAllowedError` (a 409
naming the current status); a repeated request changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobyard_contracts import DeleteJob, JobStatus, PauseSandbox, ResumeJob, StopJob
from jobyard_store import Change, JobDocument


class NotAllowedError(Exception):
    def __init__(self, job: JobDocument, action: str, allowed: str) -> None:
        if job.status.is_terminal:
            message = f"job {job.id} is already {job.status}; there is nothing to {action}"
        else:
            message = f"job {job.id} is {job.status}; {action} needs a job that is {allowed}"
        super().__init__(message)


def request_stop(job: JobDocument, *, cancel: bool = False) -> Change | None:
    if job.status.is_terminal:
        raise NotAllowedError(job, "cancel" if cancel else "stop", "pending, running or paused")
    if job.stop_requested_at is not None:
        return None
    requested = job.model_copy(update={"stop_requested_at": datetime.now(UTC)})
    return Change(requested, [StopJob(cancel=cancel)])


PAUSE_REQUEST_EXPIRES = timedelta(seconds=30)


def request_pause(job: JobDocument, now: datetime | None = None) -> Change | None:
    """Ask the job's host to freeze it; pausing a paused job (or one whose pause is under way)
    is a no-op. A request its host never carried out (e.g. dead-lettered) may be repeated."""
    now = now or datetime.now(UTC)
    if job.status is JobStatus.PAUSED:
        return None
    pending = job.pause_requested_at
    if pending is not None and now - pending < PAUSE_REQUEST_EXPIRES:
        return None
    if job.status is not JobStatus.RUNNING or job.host is None:
        raise NotAllowedError(job, "pause", "running")
    requested = job.model_copy(update={"pause_requested_at": now})
    return Change(requested, [PauseSandbox(host=job.host)])


def request_resume(job: JobDocument) -> Change | None:
    """Ask the scheduler to resume the job (it needs a free slot); resuming a running job, or
    one whose resume is already under way, is a no-op."""
    if job.status is JobStatus.RUNNING and job.pause_requested_at is None:
        return None
    if job.status is not JobStatus.PAUSED:
        raise NotAllowedError(job, "resume", "paused")
    if job.resume_requested_at is not None:
        return None
    requested = job.model_copy(update={"resume_requested_at": datetime.now(UTC)})
    return Change(requested, [ResumeJob()])


def request_delete(job: JobDocument) -> Change | None:
    """From this write on the job is a 404; the scheduler stops and purges it."""
    if job.deleted_at is not None:
        return None
    return Change(job.model_copy(update={"deleted_at": datetime.now(UTC)}), [DeleteJob()])
