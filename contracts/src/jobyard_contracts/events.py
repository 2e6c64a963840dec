"""Events: past-tense facts, published after the state change they announce is stored."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from jobyard_contracts.envelope import Payload
from jobyard_contracts.jobs import (
    FailureReason,
    JobKind,
    NetworkPolicy,
    PauseReason,
    Planner,
    Resources,
    Runtime,
    SandboxStart,
    StepSpec,
)


class ForkOrigin(BaseModel):
    """Where a forked job comes from: another job of the same owner, as it was at an event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str
    sequence: int = Field(ge=1, description="The last event of the original the fork keeps.")
    completed_steps: tuple[int, ...] = Field(
        default=(), description="Steps done by then: the fork does not run them again."
    )


class JobSubmitted(Payload):
    """A user submitted a job; it is stored as `pending` with its plan (empty when a language
    model is to make it)."""

    TYPE: ClassVar[str] = "job.submitted"
    VERSION: ClassVar[int] = 2

    name: str = Field(description="The job's name as given by the user.")
    kind: JobKind = Field(description="Script job or agent job.")
    image: str = Field(description="Sandbox image the job runs in.")
    resources: Resources
    steps: tuple[StepSpec, ...] = Field(description="The plan (or its outline, for a model).")
    stateful: bool = Field(default=False, description="Keeps /workspace across runs of the name.")
    persistent: bool = Field(default=False, description="Stays up, with SSH, until stopped.")
    network: NetworkPolicy = Field(default=NetworkPolicy.NONE, description="What it may reach.")
    instruction: str = Field(default="", description="What an agent job is asked to do.")
    chat_id: str | None = Field(default=None, description="The chat an agent job belongs to.")
    planner: Planner | None = Field(default=None, description="Who plans an agent job.")
    forked_from: ForkOrigin | None = Field(default=None, description="Set for a fork.")


class JobAdmitted(Payload):
    """The scheduler gave the job a concurrency slot and a host; execution may start."""

    TYPE: ClassVar[str] = "job.admitted"

    host: str | None = Field(default=None, description="Docker host the job's sandbox runs on.")


class StepDispatched(Payload):
    """The agent asked a sandbox to run a step."""

    TYPE: ClassVar[str] = "job.step.dispatched"

    step_index: int = Field(ge=0)


class SandboxStarted(Payload):
    """A step's process started in the job's sandbox."""

    TYPE: ClassVar[str] = "sandbox.started"

    step_index: int = Field(ge=0)
    host: str = Field(description="Docker host the sandbox runs on.")
    container: str = Field(description="Container name.")
    runtime: Runtime | None = Field(default=None, description="OCI runtime of the sandbox.")
    start: SandboxStart | None = Field(
        default=None, description="Whether the sandbox came warm from its host's pool or cold."
    )


class SandboxExited(Payload):
    """A step's process ended (on its own, or killed: timeout, memory, processes, disk)."""

    TYPE: ClassVar[str] = "sandbox.exited"
    VERSION: ClassVar[int] = 3

    step_index: int = Field(ge=0)
    exit_code: int = Field(description="Process exit code (128 + signal when killed).")
    reason: FailureReason | None = Field(default=None, description="Set when not a clean exit.")
    message: str = Field(default="", description="The reason in words, for people.")
    stderr_tail: str = Field(default="", description="Last lines of stderr, for failures.")
    output_tail: str = Field(default="", description="Last lines of the step's output.")


class JobStarted(Payload):
    """The job's first step is running."""

    TYPE: ClassVar[str] = "job.started"


class StepStarted(Payload):
    """A step of the plan began running in the job's sandbox."""

    TYPE: ClassVar[str] = "job.step.started"

    step_index: int = Field(ge=0)
    title: str = ""


class StepFinished(Payload):
    """A step ended; `succeeded` tells whether the plan goes on."""

    TYPE: ClassVar[str] = "job.step.finished"
    VERSION: ClassVar[int] = 2

    step_index: int = Field(ge=0)
    succeeded: bool
    exit_code: int
    reason: FailureReason | None = Field(default=None, description="Set when it failed.")
    message: str = Field(default="", description="The reason in words.")
    output_tail: str = Field(default="", description="Last lines of the step's output.")


class JobCompleted(Payload):
    """Every step succeeded (an agent job: its planner finished, with a summary)."""

    TYPE: ClassVar[str] = "job.completed"

    summary: str = Field(default="", description="The agent's closing summary.")


class JobFailed(Payload):
    """A step failed; the job ends with its exit code, reason and the tail of stderr."""

    TYPE: ClassVar[str] = "job.failed"
    VERSION: ClassVar[int] = 3

    exit_code: int | None = Field(default=None)
    reason: FailureReason
    message: str = Field(default="", description="The reason in words, for people.")
    stderr_tail: str = ""


class JobStopped(Payload):
    """A user stopped the job (or deleted it while it ran)."""

    TYPE: ClassVar[str] = "job.stopped"


class JobCancelled(Payload):
    """A user cancelled the job for good; the files it produced so far stay available."""

    TYPE: ClassVar[str] = "job.cancelled"


class JobPaused(Payload):
    """Every process of the job's sandbox is frozen with its memory."""

    TYPE: ClassVar[str] = "job.paused"
    VERSION: ClassVar[int] = 2

    by: str = Field(
        description="`user` (the owner asked), `system` (a limit) or `agent` (awaits input)."
    )
    reason: PauseReason
    message: str = ""


class JobResumed(Payload):
    """The job runs again; `session` counts sessions, `hibernated` says processes were lost."""

    TYPE: ClassVar[str] = "job.resumed"

    session: int = Field(ge=1)
    hibernated: bool = Field(
        default=False, description="The sandbox was re-created: the interrupted step re-runs."
    )


class SandboxHibernated(Payload):
    """A long-paused job's container was removed to free its host; its disk is kept."""

    TYPE: ClassVar[str] = "sandbox.hibernated"


class JobDeleted(Payload):
    """A user deleted the job: its document, logs, containers and workspace go."""

    TYPE: ClassVar[str] = "job.deleted"

    name: str
    stateful: bool = Field(description="Its workspace belongs to the name, not the job.")


TERMINAL_EVENTS: tuple[type[Payload], ...] = (JobCompleted, JobFailed, JobStopped, JobCancelled)
"""Events after which a job holds no resources any more."""
