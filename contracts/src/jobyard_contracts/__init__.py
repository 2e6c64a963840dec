"""Jobyard's wire contracts: one envelope, versioned commands and events, and names."""

from jobyard_contracts.catalog import BY_TYPE, MESSAGES, parse_envelope
from jobyard_contracts.commands import DeleteJob, RunStep, StopJob
from jobyard_contracts.envelope import Envelope, Payload, envelope_for
from jobyard_contracts.events import (
    TERMINAL_EVENTS,
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
from jobyard_contracts.jobs import (
    FailureReason,
    JobKind,
    JobStatus,
    NetworkPolicy,
    Resources,
    StepSpec,
    StepStatus,
)
from jobyard_contracts.routing import WireNames

__all__ = [
    "BY_TYPE",
    "MESSAGES",
    "TERMINAL_EVENTS",
    "DeleteJob",
    "Envelope",
    "FailureReason",
    "JobAdmitted",
    "JobCompleted",
    "JobDeleted",
    "JobFailed",
    "JobKind",
    "JobStarted",
    "JobStatus",
    "JobStopped",
    "JobSubmitted",
    "NetworkPolicy",
    "Payload",
    "Resources",
    "RunStep",
    "SandboxExited",
    "SandboxStarted",
    "StepDispatched",
    "StepFinished",
    "StepSpec",
    "StepStatus",
    "StopJob",
    "WireNames",
    "envelope_for",
    "parse_envelope",
]
