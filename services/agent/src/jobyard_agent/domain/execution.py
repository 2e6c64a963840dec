"""How an explicit plan advances (a script job's steps, or an agent job's `steps`), and the step
facts every plan shares. Pure functions: current job + fact -> new job + events, or None.

Returning None means "already applied" and is what makes every handler idempotent under
redelivery: a duplicate or stale message finds the step past the state it expects.
"""

from __future__ import annotations

import shlex
from datetime import datetime

from jobyard_agent.domain import prompts
from jobyard_agent.domain.outcomes import completed, dispatched, failed, now
from jobyard_contracts import (
    FailureReason,
    JobKind,
    JobStarted,
    JobStatus,
    Payload,
    PlanItem,
    PlanUpdated,
    SandboxExited,
    SandboxStarted,
    StepFinished,
    StepStarted,
    StepStatus,
)
from jobyard_store import Change, JobDocument, Prompt

_UNDER_WAY = (StepStatus.DISPATCHED, StepStatus.RUNNING)


def plan_announced(job: JobDocument) -> PlanUpdated:
    return PlanUpdated(
        revision=1, items=tuple(PlanItem(title=s.title, status=s.status) for s in job.steps)
    )


def start_plan(job: JobDocument) -> Change | None:
    """On admission: an agent job announces its plan; then its first step to run goes, once
    (a fork's steps done before it are not run again)."""
    if job.status is not JobStatus.PENDING or any(s.status in _UNDER_WAY for s in job.steps):
        return None
    first = next((s for s in job.steps if s.status is StepStatus.PENDING), None)
    if first is None:
        return None
    events: list[Payload] = []
    if job.kind is JobKind.AGENT:
        job = job.model_copy(update={"status": JobStatus.PLANNING})
        events.append(plan_announced(job))
    job, step_events = _begin_step(job, first.index)
    return Change(job, events + step_events)


def _begin_step(job: JobDocument, index: int) -> tuple[JobDocument, list[Payload]]:
    """Run a script step (earlier answers in its environment), or ask a step's question."""
    step = job.step(index)
    if step.ask:
        prompt = Prompt(
            id=f"prompt-{index}",
            question=step.ask,
            choices=step.choices,
            asked_at=now(),
            step_index=index,
        )
        job = job.with_step(index, status=StepStatus.RUNNING, started_at=now())
        return prompts.ask(job, prompt)
    if job.kind is JobKind.AGENT:
        job = job.with_step(index, script=_with_answers(job, step.script))
    return dispatched(job, index)


def _with_answers(job: JobDocument, script: str) -> str:
    """Answers of earlier `ask` steps reach later scripts as JOBYARD_ANSWER_<step> (and the
    latest as JOBYARD_ANSWER)."""
    answers = [(s.index, s.output_tail) for s in job.steps if s.ask and s.output_tail]
    if not answers:
        return script
    exports = [f"export JOBYARD_ANSWER_{i}={shlex.quote(text)}" for i, text in answers]
    exports.append(f"export JOBYARD_ANSWER={shlex.quote(answers[-1][1])}")
    return "\n".join([*exports, script])


def record_step_started(job: JobDocument, fact: SandboxStarted) -> Change | None:
    step = job.step(fact.step_index)
    if job.status.is_terminal or step.status is not StepStatus.DISPATCHED:
        return None
    at = now()
    job = job.with_step(fact.step_index, status=StepStatus.RUNNING, started_at=at)
    job, starting = _start_job(job, at)
    return Change(job, [*starting, StepStarted(step_index=fact.step_index, title=step.title)])


def _start_job(job: JobDocument, at: datetime) -> tuple[JobDocument, list[Payload]]:
    """A step process of the job ran: the job is running from then on, announced once (also
    when a step's end is handled before its start)."""
    if job.started_at is not None:
        return job, []
    update: dict[str, object] = {"started_at": at}
    if job.status in (JobStatus.PENDING, JobStatus.PLANNING):
        update["status"] = JobStatus.RUNNING
    return job.model_copy(update=update), [JobStarted()]


def finish_step(
    job: JobDocument, fact: SandboxExited
) -> tuple[JobDocument, list[Payload], bool] | None:
    """Record a step's end (None when already recorded); True when it succeeded."""
    step = job.step(fact.step_index)
    if job.status.is_terminal or step.status not in _UNDER_WAY:
        return None
    at = now()
    succeeded = fact.exit_code == 0 and fact.reason is None
    reason = None if succeeded else (fact.reason or FailureReason.EXIT_CODE)
    job = job.with_step(
        fact.step_index,
        status=StepStatus.COMPLETED if succeeded else StepStatus.FAILED,
        started_at=step.started_at or at,
        finished_at=at,
        exit_code=fact.exit_code,
        reason=reason,
        message=fact.message,
        stderr_tail="" if succeeded else fact.stderr_tail,
        output_tail=fact.output_tail,
    )
    job, starting = _start_job(job, at)
    finished = StepFinished(
        step_index=fact.step_index,
        succeeded=succeeded,
        exit_code=fact.exit_code,
        reason=reason,
        message=fact.message,
        output_tail=fact.output_tail,
    )
    return job, [*starting, finished], succeeded


def record_step_exited(job: JobDocument, fact: SandboxExited) -> Change | None:
    """Finish the step; then fail the job, go on with the next step, or complete the job."""
    result = finish_step(job, fact)
    if result is None:
        return None
    job, events, succeeded = result
    if not succeeded:
        step = job.step(fact.step_index)
        assert step.reason is not None
        job, ending = failed(
            job,
            step.reason,
            fact.message,
            exit_code=fact.exit_code,
            stderr_tail=fact.stderr_tail,
        )
        return Change(job, events + ending)
    job, following = _next_step(job, fact.step_index + 1)
    return Change(job, events + following)


def _next_step(job: JobDocument, index: int) -> tuple[JobDocument, list[Payload]]:
    if index >= len(job.steps):
        return completed(job)
    if job.status is JobStatus.PAUSED:
        return job, []  # the next step waits for the resume
    return _begin_step(job, index)


def answer_step(job: JobDocument, message_id: str, answer: str) -> Change | None:
    """The owner answered an `ask` step: it completes with the answer, and the plan goes on."""
    prompt = job.prompt
    if prompt is None or prompt.step_index is None:
        return None
    index = prompt.step_index
    job, events = prompts.answered(job, message_id, answer)
    job = job.with_step(
        index, status=StepStatus.COMPLETED, finished_at=now(), exit_code=0, output_tail=answer
    )
    events.append(
        StepFinished(step_index=index, succeeded=True, exit_code=0, output_tail=answer[:2000])
    )
    job, following = _next_step(job, index + 1)
    return Change(job, events + following)


def continue_plan(job: JobDocument) -> Change | None:
    """On resume: go on with the step that waited for it, if no step is under way."""
    if job.status is not JobStatus.RUNNING:
        return None
    if any(s.status in _UNDER_WAY for s in job.steps):
        return None
    waiting = next((s for s in job.steps if s.status is StepStatus.PENDING), None)
    if waiting is None or any(s.status is StepStatus.FAILED for s in job.steps):
        return None
    job, events = _begin_step(job, waiting.index)
    return Change(job, events)
