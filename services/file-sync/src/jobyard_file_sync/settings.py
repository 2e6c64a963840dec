from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_objects import FileLimits, ObjectSettings
from jobyard_settings import InfraSettings
from jobyard_store import workspaces


class FileSyncSettings(BaseSettings):
    """File-sync settings, from `JOBYARD_FILESYNC_*`; it shares the host's id and state folder
    with the sandbox-manager of the same host (`JOBYARD_SANDBOX_HOST_ID`, `..._STATE_DIR`).

    Run exactly one file-sync per sandbox host.
    """

    model_config = SettingsConfigDict(env_prefix="JOBYARD_FILESYNC_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    objects: ObjectSettings = Field(default_factory=ObjectSettings)
    limits: FileLimits = Field(default_factory=FileLimits)
    host_id: str = Field(
        default_factory=workspaces.default_host_id,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        validation_alias=AliasChoices("JOBYARD_FILESYNC_HOST_ID", "JOBYARD_SANDBOX_HOST_ID"),
        description="The sandbox host whose workspaces this file-sync saves.",
    )
    state_dir: Path = Field(
        default=Path("/var/lib/jobyard"),
        validation_alias=AliasChoices("JOBYARD_FILESYNC_STATE_DIR", "JOBYARD_SANDBOX_STATE_DIR"),
        description="The sandbox-manager's state folder (job disks are mounted under it).",
    )
    settle_seconds: float = Field(
        default=2.0, gt=0, description="A file unchanged this long is taken as complete."
    )
    rescan_seconds: float = Field(
        default=10.0, gt=0, description="Full rescan of a workspace, so no change is missed."
    )
    poll_seconds: float = Field(default=1.0, gt=0, description="Look for jobs to follow.")
    health_host: str = Field(default="127.0.0.1", description="Address of GET /healthz.")
    health_port: int = Field(default=8084, description="Port of GET /healthz.")

    @property
    def host_dir(self) -> Path:
        return workspaces.host_dir(self.state_dir, self.infra.names, self.host_id)

    @property
    def bucket(self) -> str:
        return self.objects.bucket_for(self.infra)
