"""Every message type, where it goes, and how old versions are read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobyard_contracts.commands import DeleteJob, RunStep, StopJob
from jobyard_contracts.envelope import Envelope, Payload
from jobyard_contracts.events import (
    JobAdmitted,
    JobCompleted,
    JobDeleted,
    JobFailed,
    JobStarted,
    JobStopped,
    JobSubmitted,
    SandboxExited,
    SandboxStarted,
    StepDispatched,
    StepFinished,
)

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
)

BY_TYPE: dict[str, type[Payload]] = {m.TYPE: m for m in MESSAGES}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (type, from_version) -> function turning that version's payload into the next version's.
# Empty while every message is at version 1; a breaking change adds e.g.
# ("job.failed", 1): upcast_job_failed_v1_v2.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


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
