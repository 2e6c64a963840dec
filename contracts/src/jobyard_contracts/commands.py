"""Commands: imperative requests to one service, carried in the same envelope as events."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from jobyard_contracts.envelope import MessageKind, Payload
from jobyard_contracts.jobs import Resources


class RunStep(Payload):
    """Ask a sandbox-manager to run one step of a job in a fresh container.

    Environment values are deliberately absent: they may be secrets, and every message is retained
    in the replay stream. The sandbox-manager reads them from the job document.
    """

    TYPE: ClassVar[str] = "sandbox.run-step"
    KIND: ClassVar[MessageKind] = "command"

    step_index: int = Field(ge=0)
    image: str
    script: str
    resources: Resources


class StopJob(Payload):
    """A user asked to stop the job."""

    TYPE: ClassVar[str] = "scheduler.stop-job"
    KIND: ClassVar[MessageKind] = "command"


class DeleteJob(Payload):
    """A user asked to delete the job (stopping it first if it runs)."""

    TYPE: ClassVar[str] = "scheduler.delete-job"
    KIND: ClassVar[MessageKind] = "command"
