"""Limits a sandbox is held to: step timeouts and session budgets measured in running time
(paused time excluded), hibernation of long pauses, and why a step ended. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from jobyard_contracts import FailureReason, JobStatus
from jobyard_store import ContainerState, JobDocument, SandboxState


def step_overdue(job: JobDocument, now: datetime) -> bool:
    """The running step has used up its timeout (paused time does not count)."""
    run, timeout = job.sandbox, job.resources.timeout_seconds
    if job.status is not JobStatus.RUNNING or timeout is None or run is None:
        return False
    if run.state is not SandboxState.RUNNING or run.started_at is None:
        return False
    paused = job.paused_seconds_now(now) - run.paused_seconds_at_start
    return now >= run.started_at + timedelta(seconds=timeout + paused)


def session_exhausted(job: JobDocument, now: datetime, default_budget: float) -> bool:
    """A running job whose session used its execution budget pauses ("session limit")."""
    budget = job.resources.session_seconds or default_budget
    return job.status is JobStatus.RUNNING and job.session_used_seconds(now) >= budget


def hibernation_due(job: JobDocument, now: datetime, after: timedelta) -> bool:
    """Paused for longer than `after` with its container still holding the host."""
    container = job.container
    return (
        job.status is JobStatus.PAUSED
        and job.pause is not None
        and container is not None
        and container.state is ContainerState.UP
        and now - job.pause.at >= after
    )


@dataclass(frozen=True, slots=True)
class ExitFacts:
    """What was observed about a step's end, besides its exit code."""

    killed_for_timeout: bool = False
    out_of_memory: bool = False
    process_limit_hit: bool = False
    disk_full: bool = False


REASON_MESSAGES = {
    FailureReason.TIMEOUT: "killed: the step ran longer than its timeout",
    FailureReason.OUT_OF_MEMORY: "killed: the sandbox ran out of memory (its memory limit)",
    FailureReason.PROCESS_LIMIT: "the sandbox reached its process limit (e.g. a fork bomb)",
    FailureReason.DISK_LIMIT: "the job's disk is full (its disk limit)",
    FailureReason.SANDBOX_ERROR: "the sandbox failed",
    FailureReason.STOPPED: "stopped by its owner",
    FailureReason.CANCELLED: "cancelled by its owner",
}


def classify_exit(exit_code: int, facts: ExitFacts) -> tuple[FailureReason | None, str]:
    """Why a step ended badly, in the words the job records; (None, "") for a clean exit 0."""
    if facts.killed_for_timeout:
        reason = FailureReason.TIMEOUT
    elif exit_code == 0:
        return None, ""
    elif facts.process_limit_hit:  # a fork bomb often runs out of memory too
        reason = FailureReason.PROCESS_LIMIT
    elif facts.out_of_memory:
        reason = FailureReason.OUT_OF_MEMORY
    elif facts.disk_full:
        reason = FailureReason.DISK_LIMIT
    else:
        return FailureReason.EXIT_CODE, f"exited with code {exit_code}"
    return reason, f"{REASON_MESSAGES[reason]} (exit code {exit_code})"
