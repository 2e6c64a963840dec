"""Commands: imperative requests to one service, carried in the same envelope as events."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from jobyard_contracts.envelope import MessageKind, Payload
from jobyard_contracts.jobs import PauseReason, Resources


class HostCommand(Payload):
    """A command for the sandbox-manager of one host: routed as `<type>.<host>`."""

    KIND: ClassVar[MessageKind] = "command"
    ROUTED_TO_HOST: ClassVar[bool] = True

    host: str | None = Field(default=None, description="Host that owns the job's sandbox.")


class RunStep(HostCommand):
    """Ask the host of a job's sandbox to run one step in it (creating the sandbox first).

    Environment values are deliberately absent: they may be secrets, and every message is retained
    in the replay stream. The sandbox-manager reads them from the job document.
    """

    TYPE: ClassVar[str] = "sandbox.run-step"

    step_index: int = Field(ge=0)
    image: str
    script: str
    resources: Resources


class PauseSandbox(HostCommand):
    """Freeze every process of the job's sandbox, memory kept."""

    TYPE: ClassVar[str] = "sandbox.pause"
    VERSION: ClassVar[int] = 2

    reason: PauseReason = PauseReason.USER


class ResumeSandbox(HostCommand):
    """Thaw the job's sandbox (re-creating it if it was hibernated)."""

    TYPE: ClassVar[str] = "sandbox.resume"


class ReleaseSandbox(HostCommand):
    """The job ended: kill what still runs and remove its container (and maybe its disk)."""

    TYPE: ClassVar[str] = "sandbox.release"

    delete_workspace: bool = Field(default=False, description="The job was deleted.")
    name: str | None = Field(default=None, description="The job's name (stateful workspaces).")
    stateful: bool = Field(default=False, description="Its workspace belongs to the name.")


class StopJob(Payload):
    """A user asked to stop (script jobs) or cancel (agent jobs) the job: one mechanism."""

    TYPE: ClassVar[str] = "scheduler.stop-job"
    KIND: ClassVar[MessageKind] = "command"

    cancel: bool = Field(default=False, description="End as `cancelled` rather than `stopped`.")


class ResumeJob(Payload):
    """A user asked to resume a paused job: it needs a free concurrency slot first."""

    TYPE: ClassVar[str] = "scheduler.resume-job"
    KIND: ClassVar[MessageKind] = "command"


class DeleteJob(Payload):
    """A user asked to delete the job (stopping it first if it runs)."""

    TYPE: ClassVar[str] = "scheduler.delete-job"
    KIND: ClassVar[MessageKind] = "command"
