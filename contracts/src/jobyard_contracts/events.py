"""Events: past-tense facts, published after the state change they announce is stored."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from jobyard_contracts.envelope import Payload
from jobyard_contracts.jobs import FailureReason, JobKind, NetworkPolicy, Resources, StepSpec


class JobSubmitted(Payload):
    """A user submitted a job; it is stored as `pending` with its plan."""

    TYPE: ClassVar[str] = "job.submitted"

    name: str = Field(description="The job's name as given by the user.")
    kind: JobKind = Field(description="Script job or agent job.")
    image: str = Field(description="Sandbox image the job runs in.")
    resources: Resources
    steps: tuple[StepSpec, ...] = Field(min_length=1, description="The plan.")
    stateful: bool = Field(default=False, description="Keeps /workspace across runs of the name.")
    persistent: bool = Field(default=False, description="Stays up, with SSH, until stopped.")
    network: NetworkPolicy = Field(default=NetworkPolicy.NONE, description="What it may reach.")


class JobAdmitted(Payload):
    """The scheduler gave the job a concurrency slot; execution may start."""

    TYPE: ClassVar[str] = "job.admitted"


class StepDispatched(Payload):
    """The agent asked a sandbox to run a step."""

    TYPE: ClassVar[str] = "job.step.dispatched"

    step_index: int = Field(ge=0)


class SandboxStarted(Payload):
    """The sandbox-manager started the container that runs a step."""

    TYPE: ClassVar[str] = "sandbox.started"

    step_index: int = Field(ge=0)
    host: str = Field(description="Docker host the container runs on.")
    container: str = Field(description="Container name.")


class SandboxExited(Payload):
    """The step's container ended (on its own, killed on timeout, or out of memory)."""

    TYPE: ClassVar[str] = "sandbox.exited"

    step_index: int = Field(ge=0)
    exit_code: int = Field(description="Process exit code (137 when killed).")
    reason: FailureReason | None = Field(default=None, description="Set when not a clean exit.")
    stderr_tail: str = Field(default="", description="Last lines of stderr, for failures.")


class JobStarted(Payload):
    """The job's first step is running."""

    TYPE: ClassVar[str] = "job.started"


class StepFinished(Payload):
    """A step ended; `succeeded` tells whether the plan goes on."""

    TYPE: ClassVar[str] = "job.step.finished"

    step_index: int = Field(ge=0)
    succeeded: bool
    exit_code: int


class JobCompleted(Payload):
    """Every step succeeded."""

    TYPE: ClassVar[str] = "job.completed"


class JobFailed(Payload):
    """A step failed; the job ends with its exit code, reason and the tail of stderr."""

    TYPE: ClassVar[str] = "job.failed"

    exit_code: int | None = Field(default=None)
    reason: FailureReason
    stderr_tail: str = ""


class JobStopped(Payload):
    """A user stopped the job (or deleted it while it ran)."""

    TYPE: ClassVar[str] = "job.stopped"


class JobDeleted(Payload):
    """A user deleted the job: its document, logs, containers and workspace go."""

    TYPE: ClassVar[str] = "job.deleted"

    name: str
    stateful: bool = Field(description="Its workspace belongs to the name, not the job.")


TERMINAL_EVENTS: tuple[type[Payload], ...] = (JobCompleted, JobFailed, JobStopped)
"""Events after which a job holds no resources any more."""
