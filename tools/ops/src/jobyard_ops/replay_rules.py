"""Which service rule made each write of a job's history, called as that service calls it.

A write is found by its first event. When its cause (the message a handler consumed) is in the
history, the write is that handler's decision on it: `DECISIONS` lists, per consumed message
type, the rules its consumers apply, each with the arguments its handler passes. Otherwise the
write is the service's own doing (an API request, a host's watchdog, a lost host): `ORIGINS`
lists, per first event type, the rule that announces it, its inputs read off the recorded
events (a host observes the world: what its sandbox did is given, as a model's answer is).

What a host records of its sandbox (`sandbox.started`, `sandbox.exited`) follows writes that
announce nothing (placing the container, starting it): the replay takes those events as
recorded, with the container they name up (`_sandbox_started`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobyard_agent.domain import execution, planning, plans
from jobyard_contracts import (
    TERMINAL_EVENTS,
    AgentDecided,
    DecisionRequested,
    DeleteJob,
    Envelope,
    FileReady,
    FileRejected,
    JobAdmitted,
    JobFailed,
    JobPaused,
    JobResumed,
    JobSubmitted,
    MessagePosted,
    OutputsSynced,
    PauseSandbox,
    Payload,
    ResumeJob,
    ResumeSandbox,
    Runtime,
    SandboxExited,
    SandboxHibernated,
    SandboxStarted,
    StopJob,
    SyncOutputs,
)
from jobyard_file_sync.domain import outputs as file_outputs
from jobyard_gateway.domain import commands
from jobyard_gateway.domain.messages import PostMessage, post_message
from jobyard_sandbox_manager.domain import outputs as sync_requests
from jobyard_sandbox_manager.domain import pausing, sandboxes
from jobyard_scheduler.domain import admission, lifecycle, lost_hosts
from jobyard_store import Change, ContainerState, JobDocument, SandboxContainer


@dataclass(frozen=True, slots=True)
class Write:
    """The recorded events from one write on (`events[0]` its first), and its cause."""

    events: Sequence[Envelope[Any]]
    cause: Envelope[Any] | None

    @property
    def first(self) -> Any:
        return self.events[0].payload

    def leading(self, *types: type[Payload]) -> list[Any]:
        """The payloads of the write's first events while they are of `types`."""
        found = []
        for envelope in self.events:
            if not isinstance(envelope.payload, types):
                break
            found.append(envelope.payload)
        return found


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the services' rules took from outside the history when they decided."""

    budgets: planning.Budgets
    observations: Mapping[int, str] = field(default_factory=dict)
    """Per step, what an LLM planner was shown of its output (read from the job's log)."""


Rule = Callable[[JobDocument, Write, Inputs], Change | None]


def _decision(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    """The agent stored the model's answer (given, as recorded) or failed for want of one."""
    assert write.cause is not None
    turn = write.cause.payload.turn
    if isinstance(write.first, AgentDecided):
        decided = planning.Decision(
            content=write.first.content,
            tool_calls=write.first.tool_calls,
            tokens=write.first.tokens,
            messages_seen=len(job.messages),
        )
        return planning.record_decision(job, turn, decided, inputs.budgets)
    if isinstance(write.first, JobFailed):
        return planning.record_failure(job, turn, write.first.message)
    return None


def _step_exited(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    assert write.cause is not None
    fact: SandboxExited = write.cause.payload
    seen = inputs.observations.get(fact.step_index, "")
    return plans.step_exited(job, fact, seen, inputs.budgets)


def _cause(write: Write) -> Any:
    assert write.cause is not None
    return write.cause.payload


DECISIONS: dict[type[Payload], tuple[Rule, ...]] = {
    # scheduler
    JobSubmitted: (lambda job, w, _: admission.admit(job, w.first.host),),
    StopJob: (lambda job, w, _: lifecycle.stop(job, _cause(w).cancel),),
    DeleteJob: (lambda job, w, _: lifecycle.delete(job),),
    ResumeJob: (lambda job, w, _: lifecycle.grant_resume(job),),
    **{ended: (lambda job, w, _: lifecycle.release_sandbox(job),) for ended in TERMINAL_EVENTS},
    # agent
    JobAdmitted: (lambda job, w, i: plans.start(job, i.budgets),),
    SandboxStarted: (lambda job, w, _: execution.record_step_started(job, _cause(w)),),
    SandboxExited: (_step_exited,),
    JobResumed: (lambda job, w, i: plans.resumed(job, i.budgets),),
    MessagePosted: (lambda job, w, i: plans.message_posted(job, _cause(w), i.budgets),),
    DecisionRequested: (_decision,),
    # sandbox-manager (its pauses are its own doing: `ORIGINS`)
    ResumeSandbox: (
        lambda job, w, _: pausing.resume(
            job, w.events[0].occurred_at, recreated=getattr(w.first, "hibernated", False)
        ),
    ),
}
"""Per consumed message type, the decisions its consumers take on the job (a consumer whose
decision announces nothing, e.g. a host accepting a step, leaves nothing to compare)."""


def _observed(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    """A host's record of what its sandbox did, taken as recorded."""
    return Change(job, [write.first])


def _sandbox_started(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    """A step runs in the host's sandbox: the container is up, as the host's writes that
    announced nothing left it (the agent asks it to freeze while its owner is asked)."""
    fact: SandboxStarted = write.first
    before = job.container
    if before is not None and before.name == fact.container:
        container = before.model_copy(update={"state": ContainerState.UP, "start": fact.start})
    else:  # the first, or the next generation after a hibernation
        container = SandboxContainer(
            host=fact.host,
            name=fact.container,
            generation=before.generation + 1 if before else 1,
            runtime=fact.runtime or Runtime.RUNC,
            state=ContainerState.UP,
            start=fact.start,
        )
    return Change(job.model_copy(update={"container": container}), [fact])


def _paused(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    return pausing.pause(job, write.first.reason, write.events[0].occurred_at)


def _hibernated(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    """The host removed a paused job's container. One that came up but never recorded a step's
    start is known only to the host: the replay then takes the event as recorded."""
    hibernated = sandboxes.hibernate(job)
    if hibernated is not None:
        return hibernated
    container = job.container
    if container is not None:
        gone = container.model_copy(update={"state": ContainerState.HIBERNATED, "frozen_at": None})
        job = job.model_copy(update={"container": gone})
    return Change(job, [write.first])


def _sync_requested(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    asked: SyncOutputs = write.first
    host = asked.host or job.host or ""
    if asked.final:
        return sync_requests.request_final_sync(job, host)
    return sync_requests.request_sync(job, asked.step_index, host)


def _synced(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    done: OutputsSynced = write.first
    return file_outputs.synced(job, done.step_index, done.final, done.files, done.bytes)


def _files_announced(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    """File-sync announces the files it saved (or refused) together, in one write."""
    return file_outputs.announce(job, write.leading(FileReady, FileRejected))


def _lost_host(job: JobDocument, write: Write, inputs: Inputs) -> Change | None:
    failed: JobFailed = write.first
    return lost_hosts.fail_on_lost_host(
        job, job.host or "", lost_hosts.last_seen_in(failed.message)
    )


ORIGINS: dict[type[Payload], Rule] = {
    # gateway: the owner's requests
    MessagePosted: lambda job, w, _: post_message(
        job, PostMessage(text=w.first.text, reply_to=w.first.reply_to)
    ),
    StopJob: lambda job, w, _: commands.request_stop(job, cancel=w.first.cancel),
    PauseSandbox: lambda job, w, _: commands.request_pause(job, w.events[0].occurred_at),
    ResumeJob: lambda job, w, _: commands.request_resume(job),
    DeleteJob: lambda job, w, _: commands.request_delete(job),
    # scheduler: admission and resumes of queued jobs, lost hosts
    JobAdmitted: lambda job, w, _: admission.admit(job, w.first.host),
    ResumeSandbox: lambda job, w, _: lifecycle.grant_resume(job),
    JobFailed: _lost_host,
    # sandbox-manager: what its sandboxes did, pauses at a session's limit, sync requests
    SandboxStarted: _sandbox_started,
    SandboxExited: _observed,
    SandboxHibernated: _hibernated,
    JobPaused: _paused,
    SyncOutputs: _sync_requested,
    # file-sync
    FileReady: _files_announced,
    FileRejected: _files_announced,
    OutputsSynced: _synced,
}
"""Per first event type, the rule that announces it when no consumed message caused it."""
