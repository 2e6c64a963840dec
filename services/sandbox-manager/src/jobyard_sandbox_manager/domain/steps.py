"""Rules of a step run: one step's process inside the job's sandbox. Pure: no Docker, no I/O.

requested (the agent asked) -> starting (written to the runner's inbox) -> running (the runner
started it) -> exited (its exit code and reason). Every rule returns None when the job is past
the state it expects, which makes replays of runner records and redelivered commands harmless.
"""

from __future__ import annotations

from datetime import datetime

from jobyard_contracts import (
    FailureReason,
    JobStatus,
    RunStep,
    SandboxExited,
    SandboxStart,
    SandboxStarted,
)
from jobyard_sandbox_manager.domain.sandboxes import container_up
from jobyard_store import Change, JobDocument, SandboxRun, SandboxState

_IN_PROGRESS = (SandboxState.STARTING, SandboxState.RUNNING)


def accept_run(job: JobDocument, command: RunStep, now: datetime) -> Change | None:
    """Record the request; a repeated or stale command (same or earlier step) is a no-op."""
    if job.status.is_terminal:
        return None
    if job.sandbox is not None and job.sandbox.step_index >= command.step_index:
        return None
    run = SandboxRun(step_index=command.step_index, host=command.host or job.host, requested_at=now)
    return Change(job.model_copy(update={"sandbox": run}))


def _step_requested(job: JobDocument) -> bool:
    run = job.sandbox
    return run is not None and run.state is SandboxState.REQUESTED


def wants_sandbox(job: JobDocument) -> bool:
    """A step is requested of a job still going: it needs a sandbox (placed, then claimed from
    the pool or created)."""
    going = job.status in (JobStatus.PENDING, JobStatus.PLANNING, JobStatus.RUNNING)
    return going and _step_requested(job)


def ready_to_hand_over(job: JobDocument) -> bool:
    """A step is requested and the job goes on (not paused, not over): its runner may have it."""
    return (
        _step_requested(job)
        and not job.status.is_terminal
        and job.status is not JobStatus.PAUSED
        and job.pause is None
    )


def came_up(job: JobDocument, at: datetime, start: SandboxStart, host: str | None) -> Change | None:
    """The sandbox runs; when `host` is given, the requested step went into its inbox with it
    (claimed or created with the step already there): both in one write."""
    up = container_up(job, at, start)
    if up is None or host is None:
        return up
    return up.then(lambda j: hand_to_runner(j, host))


def hand_to_runner(job: JobDocument, host: str) -> Change | None:
    """The step's request is in the runner's inbox (written just before this change)."""
    run, container = job.sandbox, job.container
    if run is None or container is None or run.state is not SandboxState.REQUESTED:
        return None
    started = run.model_copy(
        update={"state": SandboxState.STARTING, "host": host, "container": container.name}
    )
    return Change(job.model_copy(update={"sandbox": started}))


def record_started(job: JobDocument, step: int, at: datetime) -> Change | None:
    run, container = job.sandbox, job.container
    if run is None or container is None or run.step_index != step:
        return None
    if run.state is not SandboxState.STARTING:
        return None
    started = run.model_copy(
        update={
            "state": SandboxState.RUNNING,
            "started_at": at,
            "paused_seconds_at_start": job.paused_seconds_now(at),
        }
    )
    event = SandboxStarted(
        step_index=step,
        host=container.host,
        container=container.name,
        runtime=container.runtime,
        start=container.start,
    )
    return Change(job.model_copy(update={"sandbox": started}), [event])


def record_exited(
    job: JobDocument,
    step: int,
    exit_code: int,
    reason: FailureReason | None,
    *,
    message: str = "",
    stderr_tail: str = "",
    output_tail: str = "",
) -> Change | None:
    run = job.sandbox
    if run is None or run.step_index != step or run.state not in _IN_PROGRESS:
        return None
    exited = run.model_copy(
        update={
            "state": SandboxState.EXITED,
            "exit_code": exit_code,
            "reason": reason,
            "message": message,
            "stderr_tail": stderr_tail,
            "output_tail": output_tail,
        }
    )
    event = SandboxExited(
        step_index=step,
        exit_code=exit_code,
        reason=reason,
        message=message,
        stderr_tail=stderr_tail,
        output_tail=output_tail,
    )
    return Change(job.model_copy(update={"sandbox": exited}), [event])


def abandon(job: JobDocument) -> Change | None:
    """The job ended before its requested step ever started: that run is over too."""
    run = job.sandbox
    if not job.status.is_terminal or run is None or run.state is not SandboxState.REQUESTED:
        return None
    ended = run.model_copy(update={"state": SandboxState.EXITED, "reason": job.reason})
    return Change(job.model_copy(update={"sandbox": ended}))


def step_in_progress(job: JobDocument) -> int | None:
    run = job.sandbox
    return run.step_index if run is not None and run.state in _IN_PROGRESS else None
