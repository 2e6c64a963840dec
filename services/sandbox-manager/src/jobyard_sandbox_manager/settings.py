from __future__ import annotations

import os
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_contracts import NetworkPolicy
from jobyard_sandbox_manager.domain.runs import HostPolicy
from jobyard_settings import InfraSettings


class SandboxManagerSettings(BaseSettings):
    """Sandbox-manager settings, from `JOBYARD_SANDBOX_*` (infrastructure from `JOBYARD_*`).

    Run exactly one sandbox-manager per Docker host: it reattaches to that host's containers.
    """

    model_config = SettingsConfigDict(env_prefix="JOBYARD_SANDBOX_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    host_id: str = Field(
        default_factory=socket.gethostname, description="Name of this Docker host in job docs."
    )
    host_cpus: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Cores a sandbox may be given here; larger vcpus requests are capped.",
    )
    max_running: int = Field(default=16, ge=1, description="Sandboxes run at once on this host.")
    sandbox_user: str = Field(default="1000:1000", description="uid:gid the step runs as.")
    network_mode: str = Field(
        default="none", description="Docker network of sandboxes; `none` means no network."
    )
    images: dict[str, str] = Field(
        default={
            "base": "jobyard/sandbox-base:latest",
            "minimal": "jobyard/sandbox-minimal:latest",
        },
        description="Image names jobs may use -> Docker images on this host (JSON).",
    )
    internet_network_mode: str = Field(
        default="host",
        description="Docker network of jobs whose policy is `internet` (no bridge on this host).",
    )
    persistent_network_mode: str = Field(
        default="host",
        description="Docker network of persistent jobs, whose SSH server must be reachable.",
    )
    ssh_host: str = Field(
        default="127.0.0.1", description="Address persistent jobs' SSH servers listen on."
    )
    pids_limit: int = Field(default=512, ge=16, description="Processes per sandbox.")
    log_batch_seconds: float = Field(
        default=0.2, gt=0, description="Output is stored and streamed at least this often."
    )
    poll_seconds: float = Field(default=1.0, gt=0, description="Scan for requested runs.")

    def host_policy(self) -> HostPolicy:
        return HostPolicy(
            host_cpus=self.host_cpus,
            pids_limit=self.pids_limit,
            images=self.images,
            networks={
                NetworkPolicy.NONE: self.network_mode,
                NetworkPolicy.INTERNET: self.internet_network_mode,
            },
            persistent_network=self.persistent_network_mode,
        )

    health_host: str = Field(default="127.0.0.1", description="Address of GET /healthz.")
    health_port: int = Field(default=8083, description="Port of GET /healthz.")
