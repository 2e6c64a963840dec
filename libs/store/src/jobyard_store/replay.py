"""A job's facts, read off its document or folded from its history.

`observe` reads what matters of a job (status, host, steps, result, pause, session, prompt,
messages, planner turns) off the stored document; `differences` names each fact on which two
readings disagree. The replayer (`jobyard_ops.replayer`) reaches a state by running the
services' own rules over the history and compares its facts with the document's. `fold` reads
the same facts off the messages alone (old versions upcast as every consumer reads them),
where there is no document to run the rules from: a job already purged, and a fork, which
keeps the steps done by its event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from jobyard_contracts import (
    AgentDecided,
    FailureReason,
    InputReceived,
    InputRequested,
    JobAdmitted,
    JobCancelled,
    JobCompleted,
    JobDeleted,
    JobFailed,
    JobKind,
    JobPaused,
    JobResumed,
    JobStarted,
    JobStatus,
    JobStopped,
    JobSubmitted,
    MessagePosted,
    PauseReason,
    Payload,
    Planner,
    PlanUpdated,
    StepDispatched,
    StepFinished,
    StepStarted,
    StepStatus,
    parse_envelope,
)
from jobyard_store.documents import JobDocument

_UNDER_WAY = (StepStatus.DISPATCHED, StepStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class StepFacts:
    status: StepStatus = StepStatus.PENDING
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What both a history and a document say about a job."""

    sequence: int = 0
    kind: JobKind = JobKind.SCRIPT
    status: JobStatus = JobStatus.PENDING
    host: str | None = None
    steps: tuple[StepFacts, ...] = ()
    exit_code: int | None = None
    reason: FailureReason | None = None
    summary: str = ""
    pause: PauseReason | None = None
    session: int = 1
    started: bool = False
    prompt: str | None = None  # the id of the last question asked and not answered
    messages: tuple[str, ...] = ()
    turns: int = 0
    deleted: bool = False


def _step(facts: JobFacts, index: int, **changes: Any) -> tuple[StepFacts, ...]:
    steps = list(facts.steps)
    steps += [StepFacts()] * (index + 1 - len(steps))  # a planner's step appears when dispatched
    steps[index] = replace(steps[index], **changes)
    return tuple(steps)


def _ended(facts: JobFacts, status: JobStatus, reason: FailureReason) -> JobFacts:
    steps = tuple(
        replace(s, status=StepStatus.FAILED) if s.status in _UNDER_WAY else s for s in facts.steps
    )
    return replace(facts, status=status, reason=reason, steps=steps)


def _submitted(facts: JobFacts, e: JobSubmitted) -> JobFacts:
    """An LLM planner's plan is its to-do list, not steps; a fork starts with the steps its
    original had done."""
    done = e.forked_from.completed_steps if e.forked_from else ()
    steps = tuple(
        StepFacts(StepStatus.COMPLETED, 0) if s.index in done else StepFacts() for s in e.steps
    )
    return replace(facts, kind=e.kind, steps=() if e.planner is Planner.LLM else steps)


def _planning(facts: JobFacts, e: Payload) -> JobFacts:
    if facts.status is JobStatus.PENDING and facts.kind is JobKind.AGENT:
        return replace(facts, status=JobStatus.PLANNING)
    return facts


def _started(facts: JobFacts, e: JobStarted) -> JobFacts:
    if facts.status in (JobStatus.PENDING, JobStatus.PLANNING):
        return replace(facts, status=JobStatus.RUNNING, started=True)
    return replace(facts, started=True)


def _step_finished(facts: JobFacts, e: StepFinished) -> JobFacts:
    status = StepStatus.COMPLETED if e.succeeded else StepStatus.FAILED
    return replace(facts, steps=_step(facts, e.step_index, status=status, exit_code=e.exit_code))


def _input_requested(facts: JobFacts, e: InputRequested) -> JobFacts:
    steps = facts.steps
    if e.step_index is not None:
        steps = _step(facts, e.step_index, status=StepStatus.RUNNING)
    return replace(facts, status=JobStatus.WAITING_FOR_INPUT, prompt=e.prompt_id, steps=steps)


def _input_received(facts: JobFacts, e: InputReceived) -> JobFacts:
    status = JobStatus.RUNNING if facts.started else JobStatus.PLANNING
    return replace(facts, status=status, prompt=None)


def _paused(facts: JobFacts, e: JobPaused) -> JobFacts:
    if e.reason is PauseReason.INPUT:  # waiting for input stays the status the owner sees
        return replace(facts, pause=e.reason)
    return replace(facts, pause=e.reason, status=JobStatus.PAUSED)


def _resumed(facts: JobFacts, e: JobResumed) -> JobFacts:
    status = JobStatus.RUNNING if facts.status is JobStatus.PAUSED else facts.status
    return replace(facts, pause=None, status=status, session=e.session)


def _failed(facts: JobFacts, e: JobFailed) -> JobFacts:
    """A step still under way fails with the job (its host was lost)."""
    ended = _ended(facts, JobStatus.FAILED, e.reason)
    return replace(ended, exit_code=e.exit_code, prompt=None)


FOLDS: dict[type[Payload], Callable[[JobFacts, Any], JobFacts]] = {
    JobSubmitted: _submitted,
    JobAdmitted: lambda f, e: replace(f, host=e.host),
    PlanUpdated: _planning,
    StepDispatched: lambda f, e: replace(
        _planning(f, e), steps=_step(f, e.step_index, status=StepStatus.DISPATCHED)
    ),
    JobStarted: _started,
    StepStarted: lambda f, e: replace(f, steps=_step(f, e.step_index, status=StepStatus.RUNNING)),
    StepFinished: _step_finished,
    InputRequested: _input_requested,
    InputReceived: _input_received,
    JobPaused: _paused,
    JobResumed: _resumed,
    MessagePosted: lambda f, e: replace(f, messages=(*f.messages, e.message_id)),
    AgentDecided: lambda f, e: replace(_planning(f, e), turns=f.turns + 1),
    JobCompleted: lambda f, e: replace(
        f, status=JobStatus.COMPLETED, exit_code=0, summary=e.summary
    ),
    JobFailed: _failed,
    JobStopped: lambda f, e: _ended(f, JobStatus.STOPPED, FailureReason.STOPPED),
    JobCancelled: lambda f, e: _ended(f, JobStatus.CANCELLED, FailureReason.CANCELLED),
    JobDeleted: lambda f, e: replace(f, deleted=True),
}
"""What each message means for the job; any other (commands, file events) changes none of
the facts compared."""


def fold(envelopes: Iterable[dict[str, Any]], up_to: int | None = None) -> JobFacts:
    """The job as its messages (JSON-shaped envelopes, in sequence order) leave it, up to and
    including sequence `up_to`."""
    facts = JobFacts()
    for raw in envelopes:
        if up_to is not None and raw["sequence"] > up_to:
            break
        payload = parse_envelope(raw).payload
        rule = FOLDS.get(type(payload))
        if rule is not None:
            facts = rule(facts, payload)
        facts = replace(facts, sequence=raw["sequence"])
    return facts


def observe(job: JobDocument) -> JobFacts:
    """The same facts, read off the stored document."""
    return JobFacts(
        sequence=job.sequence,
        kind=job.kind,
        status=job.status,
        host=job.host,
        steps=tuple(StepFacts(s.status, s.exit_code) for s in job.steps),
        exit_code=job.exit_code,
        reason=job.reason,
        summary=job.summary,
        pause=job.pause.reason if job.pause else None,
        session=job.session.number if job.session else 1,
        started=job.started_at is not None,
        prompt=job.prompt.id if job.prompt else None,
        messages=tuple(m.id for m in job.messages),
        turns=len(job.planner_state.turns) if job.planner_state else 0,
        deleted=job.deletion_announced,
    )


def differences(history: JobFacts, stored: JobFacts) -> list[str]:
    """Each fact on which they disagree, in words."""
    return [
        f"{f.name}: history says {getattr(history, f.name)!r}, "
        f"document says {getattr(stored, f.name)!r}"
        for f in fields(JobFacts)
        if getattr(history, f.name) != getattr(stored, f.name)
    ]
