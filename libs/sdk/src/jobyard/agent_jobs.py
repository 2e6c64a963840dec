"""`client.agent_jobs`: jobs given an instruction (and optionally explicit steps) that plan,
run commands, ask their owner questions and report, blocking and asyncio.

Requests come from `_requests` and the rules (what changed, which question an answer goes to,
when to read the job again while following its live feed) from `_agent`; both classes only
send and wait. Reading a job, waiting, pausing, resuming and
cancelling are those of `client.jobs`, which these classes hold.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Unpack

from jobyard import _agent
from jobyard import _requests as rq
from jobyard.live import LiveEnd, LiveEvent, LiveLine
from jobyard.models import Job, Message
from jobyard.steps import StepInput

if TYPE_CHECKING:
    from jobyard.client import AsyncJobs, Jobs


def _messages(body: dict[str, Any]) -> list[Message]:
    return [Message.model_validate(message) for message in body["messages"]]


class AgentJobs:
    """`client.agent_jobs` of `Jobyard`."""

    def __init__(self, jobs: Jobs) -> None:
        self._jobs = jobs
        self._send = jobs._send

    def start(
        self,
        instruction: str,
        steps: Sequence[StepInput] | None = None,
        **options: Unpack[rq.AgentJobOptions],
    ) -> Job:
        """Start an agent job. Without `steps` a language model plans the work; with them the
        job runs them in order (see `jobyard.steps`). Options: `chat_id`, `name`, `vcpus` (1),
        `memory_mb` (512), `image` ("base"), `network` ("none"), `env`, `timeout`,
        `session_seconds`, `disk_mb`, `inputs` (ids of uploaded files, found under
        /workspace/inputs/), `outputs` (`{"include": [...], "exclude": [...]}`).
        ConflictError if `chat_id` already has an active job."""
        return Job.model_validate(self._send(rq.start_agent(instruction, steps, **options)))

    def get(self, job_id: str) -> Job:
        return self._jobs.get(job_id)

    def send_message(self, job_id: str, text: str) -> Message:
        """Post a message to the job; while it waits for input, this answers its question."""
        return Message.model_validate(self._send(rq.post_message(job_id, text)))

    def answer(self, job_id: str, text: str, prompt_id: str | None = None) -> Message:
        """Answer the question the job waits on (or `prompt_id`); `text` is sent as given.
        ConflictError if no question is pending."""
        if prompt_id is None:
            prompt_id = _agent.pending_prompt(self.get(job_id)).id
        return Message.model_validate(self._send(rq.post_message(job_id, text, prompt_id)))

    def messages(self, job_id: str) -> list[Message]:
        """The whole conversation, oldest first (the job view holds only the last 20)."""
        return _messages(self._send(rq.messages(job_id)))

    def pause(self, job_id: str) -> Job:
        return self._jobs.pause(job_id)

    def resume(self, job_id: str) -> Job:
        return self._jobs.resume(job_id)

    def cancel(self, job_id: str) -> Job:
        return self._jobs.cancel(job_id)

    def wait(self, job_id: str, poll_interval: float = 1, timeout: float | None = None) -> Job:
        """Poll until the job is finished (or `timeout` seconds pass: then TimeoutError)."""
        return self._jobs.wait(job_id, poll_interval=poll_interval, timeout=timeout)

    def follow(self, job_id: str, *, output: bool = False) -> Iterator[Job]:
        """Yield the job each time something a viewer cares about changes (status, progress,
        the plan, finished steps, the question, messages, summary; with `output`, also the
        latest output tail), first as it is now, last when it is finished.

        Driven by the live feed: the job is read again when one of its events arrives (and,
        with `output`, when output does, at most every `OUTPUT_REFRESH_SECONDS`)."""
        shown: Job | None = None
        refresh = _agent.Refresh(output)
        for message in itertools.chain([None], self._jobs.follow(job_id), [None]):
            if refresh.due(message):
                job = self.get(job_id)
                if _agent.changed(shown, job, output=output):
                    shown = job
                    yield job

    def list(
        self,
        status: str | None = None,
        chat_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Your agent jobs, newest first; `chat_id` keeps those of one chat."""
        body = self._send(rq.listing(status, None, limit, offset, kind="agent", chat_id=chat_id))
        return [Job.model_validate(job) for job in body["jobs"]]


class AsyncAgentJobs:
    """`client.agent_jobs` of `AsyncJobyard`: the same operations, awaited."""

    def __init__(self, jobs: AsyncJobs) -> None:
        self._jobs = jobs
        self._send = jobs._send

    async def start(
        self,
        instruction: str,
        steps: Sequence[StepInput] | None = None,
        **options: Unpack[rq.AgentJobOptions],
    ) -> Job:
        call = rq.start_agent(instruction, steps, **options)
        return Job.model_validate(await self._send(call))

    async def get(self, job_id: str) -> Job:
        return await self._jobs.get(job_id)

    async def send_message(self, job_id: str, text: str) -> Message:
        return Message.model_validate(await self._send(rq.post_message(job_id, text)))

    async def answer(self, job_id: str, text: str, prompt_id: str | None = None) -> Message:
        if prompt_id is None:
            prompt_id = _agent.pending_prompt(await self.get(job_id)).id
        return Message.model_validate(await self._send(rq.post_message(job_id, text, prompt_id)))

    async def messages(self, job_id: str) -> list[Message]:
        return _messages(await self._send(rq.messages(job_id)))

    async def pause(self, job_id: str) -> Job:
        return await self._jobs.pause(job_id)

    async def resume(self, job_id: str) -> Job:
        return await self._jobs.resume(job_id)

    async def cancel(self, job_id: str) -> Job:
        return await self._jobs.cancel(job_id)

    async def wait(
        self, job_id: str, poll_interval: float = 1, timeout: float | None = None
    ) -> Job:
        return await self._jobs.wait(job_id, poll_interval=poll_interval, timeout=timeout)

    async def follow(self, job_id: str, *, output: bool = False) -> AsyncIterator[Job]:
        """As `AgentJobs.follow`."""
        shown: Job | None = None
        refresh = _agent.Refresh(output)

        async def messages() -> AsyncIterator[LiveEvent | LiveLine | LiveEnd | None]:
            yield None  # the job as it is now
            async for message in self._jobs.follow(job_id):
                yield message
            yield None  # and as it ended

        async for message in messages():
            if refresh.due(message):
                job = await self.get(job_id)
                if _agent.changed(shown, job, output=output):
                    shown = job
                    yield job

    async def list(
        self,
        status: str | None = None,
        chat_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        call = rq.listing(status, None, limit, offset, kind="agent", chat_id=chat_id)
        return [Job.model_validate(job) for job in (await self._send(call))["jobs"]]
