from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_contracts import NetworkPolicy, Runtime
from jobyard_objects import ObjectSettings
from jobyard_sandbox_manager.domain.pool import PoolPolicy
from jobyard_sandbox_manager.domain.sandboxes import HostPolicy
from jobyard_settings import InfraSettings
from jobyard_store import workspaces


class SandboxManagerSettings(BaseSettings):
    """Sandbox-manager settings, from `JOBYARD_SANDBOX_*` (infrastructure from `JOBYARD_*`).

    Run exactly one sandbox-manager per Docker host (per host id): it owns that host's sandboxes.
    """

    model_config = SettingsConfigDict(env_prefix="JOBYARD_SANDBOX_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    objects: ObjectSettings = Field(
        default_factory=ObjectSettings, description="Where jobs' input files are read from."
    )
    host_id: str = Field(
        default_factory=workspaces.default_host_id,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Name of this Docker host: jobs are placed on it and commands routed to it.",
    )
    host_cpus: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Cores a sandbox may be given here; larger vcpus requests are capped.",
    )
    host_memory_mb: int = Field(
        default_factory=lambda: os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20,
        ge=64,
        description="Memory jobs placed here may reserve in total (MiB).",
    )
    max_running: int = Field(default=16, ge=1, description="Sandboxes on this host at once.")
    runtime: Runtime | None = Field(
        default=None,
        description="`runsc` (gVisor) or `runc`; unset: gVisor when Docker has it registered.",
    )
    sandbox_user: str = Field(default="1000:1000", description="uid:gid steps run as (runc).")
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
    refused_forks_before_kill: int = Field(
        default=200,
        ge=1,
        description="A step whose forks the pids limit refused this often is ended (fork bomb).",
    )
    disk_mb: int = Field(
        default=10240, ge=16, description="Default disk of a job (workspace, home, /tmp), MiB."
    )
    disk_full_bytes: int = Field(
        default=4 * 2**20, description="A failed step whose disk has less free is 'disk full'."
    )
    state_dir: Path = Field(
        default=Path("/var/lib/jobyard"), description="Where job disks and inboxes live."
    )
    session_seconds: float = Field(
        default=3600, gt=0, description="Execution budget of a session (jobs may ask less)."
    )
    hibernate_after_seconds: float = Field(
        default=24 * 3600, gt=0, description="A job paused this long loses its container."
    )
    log_batch_seconds: float = Field(
        default=0.2, gt=0, description="Output is stored and streamed at least this often."
    )
    poll_seconds: float = Field(default=1.0, gt=0, description="Scan for sandboxes to drive.")
    report_seconds: float = Field(default=2.0, gt=0, description="How often the host reports.")
    pool_sizes: dict[str, int] = Field(
        default={"base": 2, "minimal": 2},
        description="Warm pool: image name -> sandboxes kept started and idle for it, per "
        "network policy in `POOL_NETWORKS` (JSON; {} turns the pool off). runc hosts only.",
    )
    pool_networks: list[NetworkPolicy] = Field(
        default=[NetworkPolicy.NONE],
        description="Network policies the warm pool keeps sandboxes for (JSON list).",
    )
    pool_max_idle: int = Field(
        default=8, ge=0, description="Idle warm sandboxes on this host at most, all pools."
    )
    pool_idle_size: int = Field(
        default=1,
        ge=0,
        description="What a pool shrinks to once nothing was claimed from it for "
        "`POOL_IDLE_SECONDS`.",
    )
    pool_idle_seconds: float = Field(
        default=600, gt=0, description="A pool unclaimed from this long shrinks."
    )
    pool_memory_mb: int = Field(
        default=512,
        ge=16,
        description="Memory of an idle warm sandbox (MiB, with 1 cpu): the API's default job "
        "size, so such a job is claimed as is; any other gets its own limits on claim.",
    )
    health_host: str = Field(default="127.0.0.1", description="Address of GET /healthz.")
    health_port: int = Field(default=8083, description="Port of GET /healthz.")

    @property
    def host_dir(self) -> Path:
        return workspaces.host_dir(self.state_dir, self.infra.names, self.host_id)

    @property
    def bucket(self) -> str:
        return self.objects.bucket_for(self.infra)

    @property
    def disk_owner(self) -> tuple[int, int]:
        uid, _, gid = self.sandbox_user.partition(":")
        return int(uid), int(gid or uid)

    def pool_policy(self) -> PoolPolicy:
        return PoolPolicy(
            sizes=self.pool_sizes,
            networks=tuple(self.pool_networks),
            max_idle=self.pool_max_idle,
            idle_size=self.pool_idle_size,
            idle_seconds=self.pool_idle_seconds,
            memory_mb=self.pool_memory_mb,
        )

    def host_policy(self, runtime: Runtime = Runtime.RUNC) -> HostPolicy:
        return HostPolicy(
            host_cpus=self.host_cpus,
            pids_limit=self.pids_limit,
            images=self.images,
            networks={
                NetworkPolicy.NONE: self.network_mode,
                NetworkPolicy.INTERNET: self.internet_network_mode,
            },
            persistent_network=self.persistent_network_mode,
            runtime=runtime,
            sandbox_user=self.sandbox_user,
            default_disk_mb=self.disk_mb,
        )
