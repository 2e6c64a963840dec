"""The job document: the one aggregate every service reads and changes its own fields of.

Ownership: the gateway creates it; the scheduler owns `admitted_at`; the agent owns `status`,
`steps` and the result fields; the sandbox-manager owns `sandbox`. Every change goes through
`JobRepository.change`, which guards on `version` and appends the announcing events to `outbox`
in the same single-document write.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from jobyard_contracts import (
    FailureReason,
    JobKind,
    JobStatus,
    NetworkPolicy,
    Resources,
    StepStatus,
)


class SandboxState(StrEnum):
    REQUESTED = "requested"
    STARTING = "starting"
    RUNNING = "running"
    EXITED = "exited"


class StepState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: int
    title: str
    script: str
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: FailureReason | None = None
    stderr_tail: str = ""


class SandboxRun(BaseModel):
    """The container currently running a step, as far as the sandbox-manager knows."""

    model_config = ConfigDict(extra="ignore")

    step_index: int
    state: SandboxState = SandboxState.REQUESTED
    host: str | None = None
    container: str | None = None
    started_at: datetime | None = None
    exit_code: int | None = None
    reason: FailureReason | None = None
    stderr_tail: str = ""


class SshEndpoint(BaseModel):
    """Where a persistent job's SSH server listens (set by the sandbox-manager)."""

    host: str
    port: int
    username: str


class JobDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")
    user_id: str
    name: str
    kind: JobKind = JobKind.SCRIPT
    image: str
    resources: Resources
    env: dict[str, str] = Field(default_factory=dict)
    stateful: bool = False
    persistent: bool = False
    ipv6_lease: str | None = None
    network: NetworkPolicy = NetworkPolicy.NONE
    ssh_public_key: str | None = None
    ssh: SshEndpoint | None = None
    status: JobStatus = JobStatus.PENDING
    steps: list[StepState]
    created_at: datetime
    admitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: FailureReason | None = None
    stderr_tail: str = ""
    sandbox: SandboxRun | None = None
    stop_requested_at: datetime | None = None
    deleted_at: datetime | None = Field(
        default=None, description="Set when a user deletes the job: from then on it is a 404."
    )
    deletion_announced: bool = False
    correlation_id: str
    version: int = 0
    sequence: int = Field(default=0, description="Sequence number of the job's last event.")

    def step(self, index: int) -> StepState:
        return self.steps[index]

    def with_step(self, index: int, **changes: object) -> JobDocument:
        """A copy of the job whose step `index` has `changes` applied."""
        steps = list(self.steps)
        steps[index] = steps[index].model_copy(update=changes)
        return self.model_copy(update={"steps": steps})
