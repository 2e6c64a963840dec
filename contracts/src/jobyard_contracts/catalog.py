"""Every message type, where it goes, and how old versions are read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobyard_contracts.agent import (
    AgentDecided,
    DecisionRequested,
    InputReceived,
    InputRequested,
    MessagePosted,
    PlanUpdated,
)
from jobyard_contracts.commands import (
    DeleteJob,
    PauseSandbox,
    ReleaseSandbox,
    ResumeJob,
    ResumeSandbox,
    RunStep,
    StopJob,
)
from jobyard_contracts.envelope import Envelope, Payload
from jobyard_contracts.events import (
    JobAdmitted,
    JobCancelled,
    JobCompleted,
    JobDeleted,
    JobFailed,
    JobPaused,
    JobResumed,
    JobStarted,
    JobStopped,
    JobSubmitted,
    SandboxExited,
    SandboxHibernated,
    SandboxStarted,
    StepDispatched,
    StepFinished,
    StepStarted,
)
from jobyard_contracts.files import FileReady, FileRejected, OutputsSynced, SyncOutputs

MESSAGES: tuple[type[Payload], ...] = (
    JobSubmitted,
    JobAdmitted,
    StepDispatched,
    RunStep,
    SandboxStarted,
    SandboxExited,
    JobStarted,
    StepFinished,
    JobCompleted,
    JobFailed,
    StopJob,
    JobStopped,
    DeleteJob,
    JobDeleted,
    StepStarted,
    PauseSandbox,
    JobPaused,
    ResumeJob,
    ResumeSandbox,
    JobResumed,
    SandboxHibernated,
    JobCancelled,
    ReleaseSandbox,
    PlanUpdated,
    DecisionRequested,
    AgentDecided,
    MessagePosted,
    InputRequested,
    InputReceived,
    SyncOutputs,
    FileReady,
    FileRejected,
    OutputsSynced,
)

BY_TYPE: dict[str, type[Payload]] = {m.TYPE: m for m in MESSAGES}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _unchanged(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


# (type, from_version) -> function turning that version's payload into the next version's.
# Every version so far only widened an enum or added optional fields (new values an older
# consumer could not read): an older payload is already a valid newer one.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("sandbox.exited", 1): _unchanged,
    ("sandbox.exited", 2): _unchanged,  # reasons: budget exhausted, planner error
    ("job.failed", 1): _unchanged,
    ("job.failed", 2): _unchanged,  # reasons: budget exhausted, planner error
    ("job.step.finished", 1): _unchanged,  # same reasons
    ("job.submitted", 1): _unchanged,  # kind `agent`, instruction, chat, planner, ask steps
    ("job.paused", 1): _unchanged,  # reason `waiting for input`
    ("sandbox.pause", 1): _unchanged,  # same
}


class UnknownMessageError(ValueError):
    pass


def parse_envelope(raw: dict[str, Any]) -> Envelope[Payload]:
    """Read any stored or received message, upcasting older payload versions first."""
    model = BY_TYPE.get(raw.get("type", ""))
    if model is None:
        raise UnknownMessageError(f"unknown message type {raw.get('type')!r}")
    raw = dict(raw)
    while raw["version"] < model.VERSION:
        upcast = UPCASTERS[(raw["type"], raw["version"])]
        raw["payload"] = upcast(raw["payload"])
        raw["version"] += 1
    return Envelope[model].model_validate(raw)  # type: ignore[valid-type]


def routing_key(envelope: dict[str, Any]) -> str:
    """Where a message goes on the topic exchange: its type, and for a command meant for one
    host's sandbox-manager, that host (`sandbox.pause.<host>`)."""
    model = BY_TYPE.get(envelope["type"])
    host = envelope.get("payload", {}).get("host")
    if model is not None and getattr(model, "ROUTED_TO_HOST", False) and host:
        return f"{envelope['type']}.{host}"
    return str(envelope["type"])
