"""Jobyard's wire contracts: one envelope, versioned commands and events, and names."""

from jobyard_contracts.catalog import BY_TYPE, MESSAGES, parse_envelope
from jobyard_contracts.commands import RunStep
from jobyard_contracts.envelope import Envelope, Payload, envelope_for
from jobyard_contracts.events import (
    TERMINAL_EVENTS,
    JobAdmitted,
    JobCompleted,
    JobFailed,
    JobStarted,
    JobSubmitted,
    SandboxExited,
    SandboxStarted,
    StepDispatched,
    StepFinished,
)
from jobyard_contracts.jobs import (
    FailureReason,
    JobKind,
    JobStatus,
    Resources,
    StepSpec,
    StepStatus,
)
from jobyard_contracts.routing import WireNames

__all__ = [
    "BY_TYPE",
    "MESSAGES",
    "TERMINAL_EVENTS",
    "Envelope",
    "FailureReason",
    "JobAdmitted",
    "JobCompleted",
    "JobFailed",
    "JobKind",
    "JobStarted",
    "JobStatus",
    "JobSubmitted",
    "Payload",
    "Resources",
    "RunStep",
    "SandboxExited",
    "SandboxStarted",
    "StepDispatched",
    "StepFinished",
    "StepSpec",
    "StepStatus",
    "WireNames",
    "envelope_for",
    "parse_envelope",
]
