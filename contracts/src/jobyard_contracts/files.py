"""Files: what a job produced or was given, as object storage holds them."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from jobyard_contracts.commands import HostCommand
from jobyard_contracts.envelope import Payload


class FileKind(StrEnum):
    OUTPUT = "output"
    """Created or changed under /workspace during the job."""
    INPUT = "input"
    """Uploaded by the user; copied into /workspace/inputs of the jobs that name it."""
    SCRIPT = "script"
    """What a step ran."""
    LOG = "log"
    """The job's execution log (its stored output)."""


class FileStatus(StrEnum):
    UPLOADING = "uploading"
    """An input whose bytes the client is sending straight to storage."""
    VERIFYING = "verifying"
    """An input whose size and SHA-256 are being checked."""
    READY = "ready"
    REJECTED = "rejected"
    """Not stored (over a limit, a checksum that did not match): `reason` says why."""


class SyncOutputs(HostCommand):
    """Upload every output of the job not yet saved (a step ended, or the job did); the host's
    file-sync answers by recording the job's outputs synced (`files.synced`)."""

    TYPE: ClassVar[str] = "files.sync"

    step_index: int = Field(default=-1, description="The step that ended (-1: none yet).")
    final: bool = Field(default=False, description="The job is over: write its log too.")


class FileReady(Payload):
    """A file of the job is stored (a new version when it changed again)."""

    TYPE: ClassVar[str] = "file.ready"

    file_id: str
    path: str = Field(description="Relative to /workspace for outputs.")
    kind: FileKind
    size: int = Field(ge=0)
    sha256: str
    version: int = Field(ge=1)
    step_index: int | None = Field(default=None, description="The step that produced it.")


class FileRejected(Payload):
    """An output of the job was not stored, for `reason`; the job goes on."""

    TYPE: ClassVar[str] = "file.rejected"

    file_id: str
    path: str
    size: int = Field(ge=0)
    reason: str


class OutputsSynced(Payload):
    """Every output the job had when the step (or the job) ended is stored or rejected."""

    TYPE: ClassVar[str] = "files.synced"

    step_index: int = Field(default=-1)
    final: bool = False
    files: int = Field(ge=0, description="Files of the job stored so far.")
    bytes: int = Field(ge=0, description="Their total size.")
