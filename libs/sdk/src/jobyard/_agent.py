"""Rules of agent jobs without I/O, shared by the sync and async clients and the CLI: what a
viewer of a job cares about, which question an answer goes to, what a typed answer means."""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence

from jobyard.errors import ConflictError
from jobyard.live import LiveEnd, LiveEvent, LiveLine
from jobyard.models import Job, Prompt

_UNDER_WAY = ("dispatched", "running")
OUTPUT_REFRESH_SECONDS = 0.5


class Refresh:
    """When a follower reads the job again: at the start and the end (None), on each event,
    and (following output) on output lines, at most every `OUTPUT_REFRESH_SECONDS`."""

    def __init__(self, output: bool) -> None:
        self._output = output
        self._read_at = float("-inf")

    def due(self, message: LiveEvent | LiveLine | LiveEnd | None) -> bool:
        now = time.monotonic()
        if isinstance(message, LiveLine):
            if not self._output or now - self._read_at < OUTPUT_REFRESH_SECONDS:
                return False
        elif isinstance(message, LiveEnd):
            return False  # the end is read once, after the feed closes
        self._read_at = now
        return True


def watched(job: Job, *, output: bool = False) -> tuple[Hashable, ...]:
    """What a viewer sees change: status, progress, the plan's ticks, finished steps, the
    question, messages and summary (and with `output`, the latest output tail)."""
    return (
        job.status,
        job.status_detail,
        job.progress,
        tuple((item.index, item.status) for item in job.plan),
        len(job.timeline),
        (job.prompt.id, job.prompt.answer_id) if job.prompt else None,
        tuple(message.id for message in job.messages),
        job.summary,
        latest_output(job) if output else None,
    )


def changed(before: Job | None, after: Job, *, output: bool = False) -> bool:
    """Whether `after` is worth showing after `before` (None: nothing shown yet)."""
    return before is None or watched(before, output=output) != watched(after, output=output)


def latest_output(job: Job) -> str:
    """The output tail of the step under way, else of the last finished step that has one."""
    running = [item for item in job.plan if item.status in _UNDER_WAY]
    finished = [item for item in job.plan if item.status not in (*_UNDER_WAY, "pending")]
    for step in [*running, *reversed(job.timeline), *reversed(finished)]:
        if step.output_tail:
            return step.output_tail
    return ""


def waiting_on(job: Job) -> Prompt | None:
    """The question `job` waits on: its prompt while it is `waiting_for_input` and the prompt
    is not answered yet (as the gateway decides which prompt a message answers)."""
    prompt = job.prompt
    if job.status != "waiting_for_input" or prompt is None or prompt.answer_id is not None:
        return None
    return prompt


def pending_prompt(job: Job) -> Prompt:
    """The question `job` waits on; ConflictError when it waits on none."""
    if (prompt := waiting_on(job)) is None:
        raise ConflictError(f"job {job.id} is not waiting for an answer (it is {job.status})")
    return prompt


def resolve_answer(text: str, choices: Sequence[str]) -> str:
    """What a typed answer means: a choice's number (from 1) picks that choice, unless the
    text is itself one of the choices; anything else is sent as typed."""
    typed = text.strip()
    if typed in choices:
        return typed
    if typed.isdecimal() and 1 <= int(typed) <= len(choices):
        return choices[int(typed) - 1]
    return text
