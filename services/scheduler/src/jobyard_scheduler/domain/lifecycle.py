"""Stopping and deleting on a user's command. Pure rules, idempotent like every other."""

from __future__ import annotations

from datetime import UTC, datetime

from jobyard_contracts import FailureReason, JobDeleted, JobStatus, JobStopped, Payload, StepStatus
from jobyard_store import Change, JobDocument

_IN_PROGRESS = (StepStatus.DISPATCHED, StepStatus.RUNNING)


def _stopped(job: JobDocument) -> tuple[JobDocument, list[Payload]]:
    if job.status.is_terminal:
        return job, []
    now = datetime.now(UTC)
    steps = [
        s.model_copy(
            update={
                "status": StepStatus.FAILED,
                "finished_at": now,
                "reason": FailureReason.STOPPED,
            }
        )
        if s.status in _IN_PROGRESS
        else s
        for s in job.steps
    ]
    stopped = job.model_copy(
        update={
            "status": JobStatus.STOPPED,
            "finished_at": now,
            "reason": FailureReason.STOPPED,
            "steps": steps,
        }
    )
    return stopped, [JobStopped()]


def stop(job: JobDocument) -> Change | None:
    """Stop a pending or running job now; its sandbox is killed by the sandbox-manager."""
    stopped, events = _stopped(job)
    return Change(stopped, events) if events else None


def delete(job: JobDocument) -> Change | None:
    """Stop the job if needed and announce its deletion, once."""
    if job.deletion_announced:
        return None
    stopped, events = _stopped(job)
    deleted = stopped.model_copy(update={"deletion_announced": True})
    return Change(deleted, [*events, JobDeleted(name=job.name, stateful=job.stateful)])


DELETED_QUERY: dict[str, object] = {"deletion_announced": True}
"""Deleted jobs whose document and logs are still to be purged."""
