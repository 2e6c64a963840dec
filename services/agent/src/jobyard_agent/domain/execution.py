"""How a plan advances. Pure functions: current job + fact -> new job + events, or None.

Returning None means "already applied" and is what makes every handler idempotent under
redelivery: a duplicate or stale message finds the step past the state it expects.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jobyard_contracts import (
    FailureReason,
    JobCompleted,
    JobFailed,
    JobStarted,
    JobStatus,
    Payload,
    RunStep,
    SandboxExited,
    SandboxStarted,
    StepDispatched,
    StepFinished,
    StepStarted,
    StepStatus,
)
from jobyard_store import Change, JobDocument


def _now() -> datetime:
    return datetime.now(UTC)


def _dispatched(job: JobDocument, index: int) -> tuple[JobDocument, list[Payload]]:
    step = job.step(index)
    command = RunStep(
        step_index=index,
        image=job.image,
        script=step.script,
        resources=job.resources,
        host=job.host,
    )
    dispatched = job.with_step(index, status=StepStatus.DISPATCHED)
    return dispatched, [StepDispatched(step_index=index), command]


def start_plan(job: JobDocument) -> Change | None:
    """On admission: dispatch the first step, once."""
    if job.status.is_terminal or job.step(0).status is not StepStatus.PENDING:
        return None
    new, events = _dispatched(job, 0)
    return Change(new, events)


def record_step_started(job: JobDocument, fact: SandboxStarted) -> Change | None:
    step = job.step(fact.step_index)
    if job.status.is_terminal or step.status is not StepStatus.DISPATCHED:
        return None
    now = _now()
    job = job.with_step(fact.step_index, status=StepStatus.RUNNING, started_at=now)
    events: list[Payload] = [StepStarted(step_index=fact.step_index, title=step.title)]
    if job.status is not JobStatus.PENDING:
        return Change(job, events)
    started = job.model_copy(update={"status": JobStatus.RUNNING, "started_at": now})
    return Change(started, [JobStarted(), *events])


def record_step_exited(job: JobDocument, fact: SandboxExited) -> Change | None:
    """Finish the step; then fail the job, dispatch the next step, or complete the job."""
    step = job.step(fact.step_index)
    if job.status.is_terminal or step.status not in (StepStatus.DISPATCHED, StepStatus.RUNNING):
        return None
    now = _now()
    succeeded = fact.exit_code == 0 and fact.reason is None
    reason = None if succeeded else (fact.reason or FailureReason.EXIT_CODE)
    job = job.with_step(
        fact.step_index,
        status=StepStatus.COMPLETED if succeeded else StepStatus.FAILED,
        started_at=step.started_at or now,
        finished_at=now,
        exit_code=fact.exit_code,
        reason=reason,
        message=fact.message,
        stderr_tail="" if succeeded else fact.stderr_tail,
        output_tail=fact.output_tail,
    )
    job = job.model_copy(update={"started_at": job.started_at or now})
    events: list[Payload] = [
        StepFinished(
            step_index=fact.step_index,
            succeeded=succeeded,
            exit_code=fact.exit_code,
            reason=reason,
            message=fact.message,
            output_tail=fact.output_tail,
        )
    ]
    if not succeeded:
        assert reason is not None
        failed = job.model_copy(
            update={
                "status": JobStatus.FAILED,
                "finished_at": now,
                "exit_code": fact.exit_code,
                "reason": reason,
                "message": fact.message,
                "stderr_tail": fact.stderr_tail,
                "status_detail": "",
            }
        )
        events.append(
            JobFailed(
                exit_code=fact.exit_code,
                reason=reason,
                message=fact.message,
                stderr_tail=fact.stderr_tail,
            )
        )
        return Change(failed, events)
    following = fact.step_index + 1
    if following < len(job.steps):
        if job.status is JobStatus.PAUSED:
            return Change(job, events)  # the next step waits for the resume
        job, dispatch_events = _dispatched(job, following)
        return Change(job, events + dispatch_events)
    completed = job.model_copy(
        update={
            "status": JobStatus.COMPLETED,
            "finished_at": now,
            "exit_code": 0,
            "status_detail": "",
        }
    )
    return Change(completed, [*events, JobCompleted()])


def continue_plan(job: JobDocument) -> Change | None:
    """On resume: dispatch the step that waited for it, if no step is under way."""
    if job.status is not JobStatus.RUNNING:
        return None
    if any(s.status in (StepStatus.DISPATCHED, StepStatus.RUNNING) for s in job.steps):
        return None
    waiting = next((s for s in job.steps if s.status is StepStatus.PENDING), None)
    if waiting is None or any(s.status is StepStatus.FAILED for s in job.steps):
        return None
    new, events = _dispatched(job, waiting.index)
    return Change(new, events)
