"""How a job ends, whichever planner ran it, and how a step is handed to the job's sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

from jobyard_contracts import (
    FailureReason,
    JobCompleted,
    JobFailed,
    JobStatus,
    Payload,
    RunStep,
    StepDispatched,
    StepStatus,
)
from jobyard_store import JobDocument


def now() -> datetime:
    return datetime.now(UTC)


def failed(
    job: JobDocument,
    reason: FailureReason,
    message: str,
    *,
    exit_code: int | None = None,
    stderr_tail: str = "",
) -> tuple[JobDocument, list[Payload]]:
    ended = job.model_copy(
        update={
            "status": JobStatus.FAILED,
            "finished_at": now(),
            "exit_code": exit_code,
            "reason": reason,
            "message": message,
            "stderr_tail": stderr_tail,
            "status_detail": "",
            "prompt": None,
        }
    )
    event = JobFailed(exit_code=exit_code, reason=reason, message=message, stderr_tail=stderr_tail)
    return ended, [event]


def completed(job: JobDocument, summary: str = "") -> tuple[JobDocument, list[Payload]]:
    ended = job.model_copy(
        update={
            "status": JobStatus.COMPLETED,
            "finished_at": now(),
            "exit_code": 0,
            "status_detail": "",
            "summary": summary,
        }
    )
    return ended, [JobCompleted(summary=summary)]


def dispatched(job: JobDocument, index: int) -> tuple[JobDocument, list[Payload]]:
    """Ask the job's host to run step `index` (its script is on the job document)."""
    step = job.step(index)
    command = RunStep(
        step_index=index,
        image=job.image,
        script=step.script,
        resources=job.resources,
        host=job.host,
    )
    job = job.with_step(index, status=StepStatus.DISPATCHED)
    return job, [StepDispatched(step_index=index), command]
