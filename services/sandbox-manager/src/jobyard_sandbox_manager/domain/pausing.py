"""Pause and resume as the sandbox-manager carries them out. Pure rules.

A pause is recorded once the sandbox is frozen (so `paused` means every process stopped with its
memory); paused time is added up on resume, which is how it never counts against a step's
timeout or the session budget. A resume after a session-limit pause starts a new session.
"""

from __future__ import annotations

from datetime import datetime

from jobyard_contracts import JobPaused, JobResumed, JobStatus, PauseReason
from jobyard_store import Change, ContainerState, JobDocument, PauseInfo, Session

SYSTEM = "system"
USER = "user"
AGENT = "agent"

PAUSE_MESSAGES = {
    PauseReason.USER: "paused by its owner; resume to continue where it stopped",
    PauseReason.SESSION_LIMIT: "paused: the session's execution time is used up; resume to "
    "start a new session",
    PauseReason.INPUT: "waiting for input: the sandbox is paused until the owner answers",
}

_BY = {PauseReason.USER: USER, PauseReason.SESSION_LIMIT: SYSTEM, PauseReason.INPUT: AGENT}


def pause_wanted(job: JobDocument, reason: PauseReason) -> bool:
    """A running job pauses for its owner only while their request stands, so a duplicated
    pause command arriving after a later resume changes nothing. A job waiting for its owner's
    answer is frozen while it still waits (not once answered)."""
    if reason is PauseReason.INPUT:
        return job.status is JobStatus.WAITING_FOR_INPUT and job.pause is None
    if job.status is not JobStatus.RUNNING:
        return False
    return reason is PauseReason.SESSION_LIMIT or job.pause_requested_at is not None


def resume_wanted(job: JobDocument) -> bool:
    """Only a resume the scheduler granted (a slot is held for it) is carried out, once; a job
    frozen while it waited for input thaws once it is answered (it kept its slot)."""
    if job.pause is not None and job.pause.reason is PauseReason.INPUT:
        return job.status is not JobStatus.WAITING_FOR_INPUT and not job.status.is_terminal
    return job.status is JobStatus.PAUSED and job.resume_granted_at is not None


def pause(job: JobDocument, reason: PauseReason, at: datetime) -> Change | None:
    """The sandbox is frozen (or has no container): the job is paused, once."""
    if not pause_wanted(job, reason):
        return None
    container = job.container
    update: dict[str, object] = {
        "pause": PauseInfo(by=_BY[reason], reason=reason, message=PAUSE_MESSAGES[reason], at=at)
    }
    if reason is not PauseReason.INPUT:  # waiting for input stays the status the owner sees
        update |= {
            "status": JobStatus.PAUSED,
            "status_detail": PAUSE_MESSAGES[reason],
            "pause_requested_at": None,
        }
    if container is not None and container.state is ContainerState.UP:
        update["container"] = container.model_copy(update={"frozen_at": at})
    paused = job.model_copy(update=update)
    assert paused.pause is not None
    return Change(
        paused, [JobPaused(by=paused.pause.by, reason=reason, message=paused.pause.message)]
    )


def resume(job: JobDocument, at: datetime, *, recreated: bool = False) -> Change | None:
    """The sandbox is thawed (or, `recreated`, made anew after hibernation): the job runs
    again, once."""
    if not resume_wanted(job) or job.pause is None:
        return None
    paused_seconds = job.paused_seconds_now(at)
    session = job.session or Session(started_at=job.started_at or at)
    if job.pause.reason is PauseReason.SESSION_LIMIT:
        session = Session(
            number=session.number + 1, started_at=at, paused_seconds_at_start=paused_seconds
        )
    container = job.container
    update: dict[str, object] = {
        "status": job.status if job.status is not JobStatus.PAUSED else JobStatus.RUNNING,
        "pause": None,
        "paused_seconds": paused_seconds,
        "session": session,
        "status_detail": "" if job.status is JobStatus.PAUSED else job.status_detail,
        "resume_requested_at": None,
        "resume_granted_at": None,
    }
    if container is not None and container.frozen_at is not None:
        update["container"] = container.model_copy(update={"frozen_at": None})
    return Change(
        job.model_copy(update=update), [JobResumed(session=session.number, hibernated=recreated)]
    )


def start_session(job: JobDocument, at: datetime) -> JobDocument:
    """The first session starts with the job's first step."""
    if job.session is not None:
        return job
    return job.model_copy(update={"session": Session(started_at=at)})
