"""A message from the owner to their job: stored on the job with the event announcing it; one
that answers the pending prompt marks it answered (the agent then lets the job go on)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from jobyard_contracts import MessagePosted
from jobyard_gateway.domain.commands import NotAllowedError
from jobyard_store import Change, JobDocument

MAX_MESSAGES = 1000
"""Messages one job keeps (they live on its document)."""


class PostMessage(BaseModel):
    """Body of `POST /v1/jobs/{id}/messages`."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=16_000, description="The message.")
    reply_to: str | None = Field(
        default=None,
        max_length=200,
        description="The prompt it answers. While the job waits for input, any message answers "
        "the pending prompt.",
    )


class PromptNotPendingError(NotAllowedError):
    def __init__(self, job: JobDocument, prompt_id: str) -> None:
        Exception.__init__(
            self,
            f"prompt {prompt_id} of job {job.id} is not pending"
            + (f"; the pending one is {job.prompt.id}" if job.prompt else "; none is"),
        )


def post_message(job: JobDocument, request: PostMessage) -> Change:
    if job.status.is_terminal:
        raise NotAllowedError(job, "send a message to", "active")
    if len(job.messages) >= MAX_MESSAGES:
        raise NotAllowedError(job, f"send more than {MAX_MESSAGES} messages to", "active")
    pending = job.pending_prompt()
    if pending is not None and pending.answer_id is not None:
        pending = None  # answered already: the agent is about to go on
    if request.reply_to is not None and (pending is None or pending.id != request.reply_to):
        raise PromptNotPendingError(job, request.reply_to)
    reply_to = pending.id if pending is not None else None
    job, message = job.with_message("user", request.text, datetime.now(UTC), reply_to)
    if pending is not None:
        job = job.model_copy(
            update={"prompt": pending.model_copy(update={"answer_id": message.id})}
        )
    posted = MessagePosted(
        message_id=message.id, role="user", text=message.text, reply_to=message.reply_to
    )
    return Change(job, [posted])
