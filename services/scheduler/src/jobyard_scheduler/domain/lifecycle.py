"""Stopping, cancelling, deleting, resuming and releasing on commands and job endings. Pure
rules, idempotent like every other."""

from __future__ import annotations

from datetime import UTC, datetime

from jobyard_contracts import (
    FailureReason,
    JobCancelled,
    JobDeleted,
    JobStatus,
    JobStopped,
    Payload,
    ReleaseSandbox,
    ResumeSandbox,
    StepStatus,
)
from jobyard_store import Change, JobDocument

_IN_PROGRESS = (StepStatus.DISPATCHED, StepStatus.RUNNING)


def ended(
    job: JobDocument, status: JobStatus, reason: FailureReason, message: str
) -> JobDocument | None:
    """The job ended now with `status`, its steps in progress failed for `reason`; None when
    it had ended already."""
    if job.status.is_terminal:
        return None
    now = datetime.now(UTC)
    steps = [
        s.model_copy(update={"status": StepStatus.FAILED, "finished_at": now, "reason": reason})
        if s.status in _IN_PROGRESS
        else s
        for s in job.steps
    ]
    update = {
        "status": status,
        "finished_at": now,
        "reason": reason,
        "message": message,
        "status_detail": "",
        "steps": steps,
    }
    return job.model_copy(update=update)


def _stopped(job: JobDocument, cancel: bool) -> tuple[JobDocument, list[Payload]]:
    reason = FailureReason.CANCELLED if cancel else FailureReason.STOPPED
    status = JobStatus.CANCELLED if cancel else JobStatus.STOPPED
    stopped = ended(job, status, reason, reason.value)
    if stopped is None:
        return job, []
    return stopped, [JobCancelled() if cancel else JobStopped()]


def stop(job: JobDocument, cancel: bool = False) -> Change | None:
    """End a pending, running or paused job now; its sandbox is released by its host."""
    stopped, events = _stopped(job, cancel)
    return Change(stopped, events) if events else None


def delete(job: JobDocument) -> Change | None:
    """Stop the job if needed and announce its deletion, once; its host removes the sandbox
    and (unless a job of the name still needs a stateful one) the workspace."""
    if job.deletion_announced:
        return None
    stopped, events = _stopped(job, cancel=False)
    deleted = stopped.model_copy(update={"deletion_announced": True})
    events.append(JobDeleted(name=job.name, stateful=job.stateful))
    if job.host is not None:
        events.append(
            ReleaseSandbox(
                host=job.host, delete_workspace=True, name=job.name, stateful=job.stateful
            )
        )
    return Change(deleted, events)


def release_sandbox(job: JobDocument) -> Change | None:
    """The job ended: ask its host, once, to remove its sandbox."""
    if not job.status.is_terminal or job.host is None or job.release_requested_at is not None:
        return None
    released = job.model_copy(update={"release_requested_at": datetime.now(UTC)})
    return Change(released, [ReleaseSandbox(host=job.host)])


def grant_resume(job: JobDocument) -> Change | None:
    """The owner has a slot for the paused job: its host thaws (or re-creates) the sandbox."""
    if job.status is not JobStatus.PAUSED or job.host is None or job.resume_requested_at is None:
        return None
    granted = job.model_copy(
        update={
            "resume_requested_at": None,
            "resume_granted_at": datetime.now(UTC),
            "status_detail": "resuming",
        }
    )
    return Change(granted, [ResumeSandbox(host=job.host)])


def queue_resume(job: JobDocument, limit: int) -> Change | None:
    """No slot is free: the resume waits (`resume_requested_at` stays set), first in line, for
    one of the owner's jobs to end or pause."""
    detail = (
        f"resume queued: all {limit} of your running slots are in use; it resumes as soon "
        "as one of your jobs ends or pauses"
    )
    if job.status is not JobStatus.PAUSED or job.resume_requested_at is None:
        return None
    if job.status_detail == detail:
        return None
    return Change(job.model_copy(update={"status_detail": detail}))


def holds_no_slot(job: JobDocument) -> bool:
    """Paused and not about to resume: its slot can go to another of the owner's jobs."""
    return job.status is JobStatus.PAUSED and job.resume_granted_at is None


DELETED_QUERY: dict[str, object] = {"deletion_announced": True}
"""Deleted jobs whose document and logs are still to be purged."""
