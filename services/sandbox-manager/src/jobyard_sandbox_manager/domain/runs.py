"""Rules of a sandbox run (the container executing one step). Pure: no Docker, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobyard_contracts import (
    FailureReason,
    NetworkPolicy,
    RunStep,
    SandboxExited,
    SandboxStarted,
    WireNames,
)
from jobyard_store import Change, JobDocument, SandboxRun, SandboxState, SshEndpoint

STDERR_TAIL_LINES = 20


def container_name(names: WireNames, job_id: str, step_index: int) -> str:
    """Deterministic, so a restarted manager finds the container it created before dying."""
    return f"{names.namespace}-{job_id}-step{step_index}"


def workspace_volume(names: WireNames, job: JobDocument) -> str:
    """A stateful job's /workspace belongs to its owner and name; any other job's to the job."""
    if job.stateful:
        return stateful_volume(names, job.user_id, job.name)
    return job_volume(names, job.id)


def job_volume(names: WireNames, job_id: str) -> str:
    return f"{names.namespace}-{job_id}-workspace"


def stateful_volume(names: WireNames, user_id: str, name: str) -> str:
    return f"{names.namespace}-ws-{user_id}-{name}"


def stateful_workspace_in_use_query(user_id: str, name: str, job_id: str) -> dict[str, object]:
    """Other live stateful jobs of the same owner and name: they keep the workspace alive."""
    return {
        "user_id": user_id,
        "name": name,
        "stateful": True,
        "deleted_at": None,
        "_id": {"$ne": job_id},
    }


def accept_run(job: JobDocument, command: RunStep) -> Change | None:
    """Record the request; a repeated or stale command (same or earlier step) is a no-op."""
    if job.status.is_terminal:
        return None
    if job.sandbox is not None and job.sandbox.step_index >= command.step_index:
        return None
    return Change(job.model_copy(update={"sandbox": SandboxRun(step_index=command.step_index)}))


def claim_run(
    job: JobDocument, host: str, container: str, ssh: SshEndpoint | None = None
) -> Change | None:
    """Take a requested run for this host (exactly one manager wins the guarded write).

    A persistent job also gets its SSH endpoint here, so a restarted manager reuses it.
    """
    run = job.sandbox
    if run is None or run.state is not SandboxState.REQUESTED:
        return None
    claimed = run.model_copy(
        update={"state": SandboxState.STARTING, "host": host, "container": container}
    )
    update: dict[str, object] = {"sandbox": claimed}
    if job.persistent and ssh is not None:
        update["ssh"] = ssh
    return Change(job.model_copy(update=update))


def record_started(job: JobDocument) -> Change | None:
    run = job.sandbox
    if run is None or run.state is not SandboxState.STARTING:
        return None
    assert run.host is not None
    assert run.container is not None
    started = run.model_copy(update={"state": SandboxState.RUNNING, "started_at": _now()})
    return Change(
        job.model_copy(update={"sandbox": started}),
        [SandboxStarted(step_index=run.step_index, host=run.host, container=run.container)],
    )


def record_exited(
    job: JobDocument, exit_code: int, reason: FailureReason | None, stderr_tail: str
) -> Change | None:
    run = job.sandbox
    if run is None or run.state not in (SandboxState.STARTING, SandboxState.RUNNING):
        return None
    exited = run.model_copy(
        update={
            "state": SandboxState.EXITED,
            "exit_code": exit_code,
            "reason": reason,
            "stderr_tail": stderr_tail,
        }
    )
    return Change(
        job.model_copy(update={"sandbox": exited}),
        [
            SandboxExited(
                step_index=run.step_index,
                exit_code=exit_code,
                reason=reason,
                stderr_tail=stderr_tail,
            )
        ],
    )


def deadline(run: SandboxRun, timeout_seconds: int | None) -> datetime | None:
    if timeout_seconds is None or run.started_at is None:
        return None
    return run.started_at + timedelta(seconds=timeout_seconds)


def classify_exit(
    exit_code: int, *, oom_killed: bool, killed_for_timeout: bool
) -> FailureReason | None:
    """Why a run ended badly, in the words the job records; None for a clean exit 0."""
    if killed_for_timeout:
        return FailureReason.TIMEOUT
    if oom_killed:
        return FailureReason.OUT_OF_MEMORY
    if exit_code != 0:
        return FailureReason.EXIT_CODE
    return None


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Everything Docker needs to create a step's container, limits included."""

    name: str
    image: str
    command: list[str]
    env: dict[str, str]
    network_mode: str
    nano_cpus: int
    memory_bytes: int
    pids_limit: int
    workspace_volume: str
    labels: dict[str, str]


PERSISTENT_ENTRYPOINT = "/usr/local/bin/jobyard-persistent"
"""In the sandbox image: starts the SSH server, runs the script, then stays up."""


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """What this Docker host offers sandboxes, from the sandbox-manager's settings."""

    host_cpus: int
    pids_limit: int
    images: dict[str, str]
    """Image names jobs use -> Docker references on this host."""
    networks: dict[NetworkPolicy, str]
    """Network policy -> Docker network mode."""
    persistent_network: str


class UnknownImageError(LookupError):
    pass


def container_spec(job: JobDocument, names: WireNames, host: HostPolicy) -> ContainerSpec:
    """The container of the job's current step, with its limits, image and network."""
    assert job.sandbox is not None
    step = job.step(job.sandbox.step_index)
    if job.image not in host.images:
        raise UnknownImageError(f"image {job.image!r} is not available on this host")
    env = dict(job.env)
    labels = {
        "jobyard.namespace": names.namespace,
        "jobyard.job_id": job.id,
        "jobyard.step": str(step.index),
    }
    if job.ipv6_lease:
        env["JOBYARD_IPV6_LEASE"] = job.ipv6_lease
        labels["jobyard.ipv6_lease"] = job.ipv6_lease
    command = ["bash", "-c", step.script]
    network_mode = host.networks[job.network]
    if job.persistent and job.ssh is not None:
        command = [PERSISTENT_ENTRYPOINT, step.script]
        network_mode = host.persistent_network
        env |= {
            "JOBYARD_SSH_PORT": str(job.ssh.port),
            "JOBYARD_SSH_LISTEN": job.ssh.host,
            "JOBYARD_SSH_AUTHORIZED_KEY": job.ssh_public_key or "",
        }
    # A job may ask for more vcpus than this host has; Docker rejects such a quota, so it is
    # capped at the host's cores (the job still cannot exceed what it asked for).
    vcpus = min(job.resources.vcpus, host.host_cpus)
    return ContainerSpec(
        name=container_name(names, job.id, step.index),
        image=host.images[job.image],
        command=command,
        env=env,
        network_mode=network_mode,
        nano_cpus=vcpus * 1_000_000_000,
        memory_bytes=job.resources.memory_mb * 1024 * 1024,
        pids_limit=host.pids_limit,
        workspace_volume=workspace_volume(names, job),
        labels=labels,
    )


def _now() -> datetime:
    return datetime.now(UTC)
