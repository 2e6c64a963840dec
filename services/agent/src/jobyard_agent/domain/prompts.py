"""Input prompts: the job asks its owner and waits, its sandbox frozen so no execution time is
spent; the owner's answer thaws it. Explicit `ask` steps and the planner's `ask_user` share this."""

from __future__ import annotations

from jobyard_contracts import (
    InputReceived,
    InputRequested,
    JobStatus,
    PauseReason,
    PauseSandbox,
    Payload,
    ResumeSandbox,
)
from jobyard_store import ContainerState, JobDocument, Prompt


def ask(job: JobDocument, prompt: Prompt) -> tuple[JobDocument, list[Payload]]:
    waiting = job.model_copy(
        update={
            "status": JobStatus.WAITING_FOR_INPUT,
            "prompt": prompt,
            "status_detail": f"waiting for your answer: {prompt.question[:200]}",
        }
    )
    events: list[Payload] = [
        InputRequested(
            prompt_id=prompt.id,
            question=prompt.question,
            choices=tuple(prompt.choices),
            step_index=prompt.step_index,
        )
    ]
    if job.container is not None and job.container.state is ContainerState.UP:
        events.append(PauseSandbox(host=job.container.host, reason=PauseReason.INPUT))
    return waiting, events


def answered(job: JobDocument, message_id: str, answer: str) -> tuple[JobDocument, list[Payload]]:
    """The pending prompt is answered: the job works again (and its sandbox thaws)."""
    assert job.prompt is not None
    resumed = job.model_copy(
        update={
            "status": JobStatus.RUNNING if job.started_at else JobStatus.PLANNING,
            "prompt": None,
            "status_detail": "",
        }
    )
    events: list[Payload] = [
        InputReceived(prompt_id=job.prompt.id, message_id=message_id, answer=answer)
    ]
    if job.pause is not None and job.pause.reason is PauseReason.INPUT and job.container:
        events.append(ResumeSandbox(host=job.container.host))
    return resumed, events


def answers_pending_prompt(job: JobDocument, reply_to: str | None) -> bool:
    prompt = job.pending_prompt()
    return prompt is not None and reply_to is not None and prompt.id == reply_to
