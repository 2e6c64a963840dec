"""The job's one sandbox: names, what its container is made of, and its lifecycle.

creating -> up (steps run in it; it may be frozen while the job is paused) -> hibernated
(container removed after a long pause, disk kept; resume re-creates it as the next generation)
-> released (the job ended). Pure: no Docker, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jobyard_contracts import (
    FailureReason,
    NetworkPolicy,
    Runtime,
    SandboxHibernated,
    SandboxStart,
    WireNames,
)
from jobyard_store import (
    Change,
    ContainerState,
    JobDocument,
    SandboxContainer,
    SandboxState,
)
from jobyard_store.workspaces import disk_key

RUNNER_PATH = "/opt/jobyard/runner.py"
INBOX_PATH = "/run/jobyard/inbox"
PERSISTENT_ENTRYPOINT = "/usr/local/bin/jobyard-persistent"
"""In the sandbox image: starts the SSH server, runs the script, then stays up."""
SANDBOX_HOME = "/home/sandbox"
GVISOR_PIDS_FACTOR = 10
GVISOR_HOST_NETWORK = "runsc-host"
"""gVisor registered with `--network=host`, for jobs with network. Plain `runsc` has
`--network=none` (Docker refuses `--network none` containers otherwise); `make up` registers
both."""


def container_name(names: WireNames, job_id: str, generation: int) -> str:
    """Deterministic, so a restarted manager finds the container it created before dying."""
    return f"{names.namespace}-{job_id}-g{generation}"


def stateful_workspace_in_use_query(user_id: str, name: str, job_id: str) -> dict[str, object]:
    """Other live stateful jobs of the same owner and name: they keep the workspace alive."""
    return {
        "user_id": user_id,
        "name": name,
        "stateful": True,
        "deleted_at": None,
        "_id": {"$ne": job_id},
    }


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
    runtime: Runtime
    """gVisor when the host has it (and the setting allows), runc otherwise."""
    sandbox_user: str
    default_disk_mb: int


class UnknownImageError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Mount:
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    """Cpu and memory given to a running sandbox (a claimed pool member)."""

    cpu_period_us: int
    cpu_quota_us: int
    memory_bytes: int


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Everything Docker needs to create the job's sandbox, limits included."""

    name: str
    image: str
    runtime: Runtime
    docker_runtime: str
    """The runtime as registered with Docker (gVisor has one entry per network mode)."""
    user: str
    env: dict[str, str]
    network_mode: str
    nano_cpus: int
    """The job's cpus (0: none set, see `cpu_quota_us`)."""
    cpu_quota_us: int
    """A cpu quota per 100 ms period instead (0: none): a pool member's, which, unlike
    `nano_cpus`, Docker can change while the sandbox runs."""
    memory_bytes: int
    pids_limit: int
    read_only: bool
    drop_capabilities: bool
    """Always under runc; gVisor's root keeps gVisor's (not the host's) default capabilities,
    which `apt-get` needs to switch to its own user."""
    workspace_volume: str | None
    """The named volume showing the workspace (None: the folder is bound directly, as for a
    pool member, whose disk changes hands when a job claims it)."""
    workspace_device: str
    mounts: tuple[Mount, ...]
    labels: dict[str, str]


def runs_as_root(job: JobDocument, host: HostPolicy) -> bool:
    """Root only inside gVisor (whose kernel is not the host's), and only for jobs allowed on
    the network, where `apt-get install` can work; runc sandboxes never run as root."""
    return host.runtime is Runtime.GVISOR and job.network is NetworkPolicy.INTERNET


def container_spec(
    job: JobDocument,
    names: WireNames,
    host: HostPolicy,
    *,
    disk: Path,
    inbox: Path,
    runner: Path,
) -> ContainerSpec:
    """The job's sandbox: the runner as main process, the job's disk as /workspace, home and
    /tmp (so everything a job writes counts against its disk limit), limits and network."""
    assert job.container is not None
    if job.image not in host.images:
        raise UnknownImageError(f"image {job.image!r} is not available on this host")
    root = runs_as_root(job, host)
    gvisor = job.container.runtime is Runtime.GVISOR
    env = sandbox_env(job.env, as_root=root)
    labels = {
        "jobyard.namespace": names.namespace,
        "jobyard.job_id": job.id,
        "jobyard.host": job.container.host,
        "jobyard.generation": str(job.container.generation),
    }
    if job.ipv6_lease:
        env["JOBYARD_IPV6_LEASE"] = job.ipv6_lease
        labels["jobyard.ipv6_lease"] = job.ipv6_lease
    network_mode = host.networks[job.network]
    if job.persistent and job.ssh is not None:
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
        name=job.container.name,
        image=host.images[job.image],
        runtime=job.container.runtime,
        docker_runtime=GVISOR_HOST_NETWORK
        if gvisor and network_mode == "host"
        else job.container.runtime.value,
        user="0:0" if root else host.sandbox_user,
        env=env,
        network_mode=network_mode,
        nano_cpus=vcpus * 1_000_000_000,
        cpu_quota_us=0,
        memory_bytes=job.resources.memory_mb * 1024 * 1024,
        # gVisor's (ptrace) Sentry uses about 8 host threads per process it runs.
        pids_limit=host.pids_limit * (GVISOR_PIDS_FACTOR if gvisor else 1),
        # Under gVisor a root job may install packages: its root filesystem is gVisor's.
        read_only=not root,
        drop_capabilities=not root,
        workspace_volume=disk_key(names, job),
        workspace_device=str(disk / "workspace"),
        mounts=sandbox_mounts(disk=disk, inbox=inbox, runner=runner, as_root=root),
        labels=labels,
    )


def sandbox_env(job_env: dict[str, str], *, as_root: bool) -> dict[str, str]:
    """What every step sees: the job's env, then the home folder and the runner's inbox."""
    return dict(job_env) | {
        "HOME": "/root" if as_root else SANDBOX_HOME,
        "JOBYARD_INBOX": INBOX_PATH,
    }


def sandbox_mounts(*, disk: Path, inbox: Path, runner: Path, as_root: bool) -> tuple[Mount, ...]:
    """The runner and its inbox read-only; home and /tmp on the job's disk."""
    return (
        Mount(str(runner), RUNNER_PATH, read_only=True),
        Mount(str(inbox), INBOX_PATH, read_only=True),
        Mount(str(disk / "home"), "/root" if as_root else SANDBOX_HOME),
        Mount(str(disk / "tmp"), "/tmp"),
        Mount(str(disk / "tmp"), "/var/tmp"),
    )


def step_argv(job: JobDocument, step: int) -> list[str]:
    """How the runner starts a step: its script from the inbox, in bash."""
    script = f"{INBOX_PATH}/step-{step}.sh"
    if job.persistent:
        return [PERSISTENT_ENTRYPOINT, f"bash {script}"]
    return ["bash", script]


def step_env(job: JobDocument, start: SandboxStart | None) -> dict[str, str] | None:
    """The env a warm sandbox's steps get with their requests (a pool member was started
    before its job was known); a cold sandbox has it from its creation. `start` is passed in
    because the first step is handed over before the job records how its sandbox came up."""
    if start is not SandboxStart.WARM:
        return None
    return sandbox_env(job.env, as_root=False)


def disk_mb(job: JobDocument, host: HostPolicy) -> int:
    return job.resources.disk_mb or host.default_disk_mb


def place_container(
    job: JobDocument, names: WireNames, host: str, runtime: Runtime, log_base_seq: int
) -> Change | None:
    """Give the job a sandbox on this host: its first one, or the next generation after a
    hibernation (its output numbering continues after the lines already stored)."""
    current = job.container
    if job.status.is_terminal:
        return None
    if current is not None and current.state is not ContainerState.HIBERNATED:
        return None
    generation = current.generation + 1 if current else 1
    container = SandboxContainer(
        host=host,
        name=container_name(names, job.id, generation),
        generation=generation,
        runtime=runtime,
        log_base_seq=log_base_seq,
    )
    return Change(job.model_copy(update={"container": container}))


def holds(job: JobDocument | None, name: str) -> bool:
    """Whether the stored job names this container as its sandbox."""
    return job is not None and job.container is not None and job.container.name == name


def container_up(job: JobDocument, at: datetime, start: SandboxStart) -> Change | None:
    """The sandbox runs: created for the job (cold) or claimed from the pool (warm)."""
    container = job.container
    if container is None or container.state is not ContainerState.CREATING:
        return None
    up = container.model_copy(update={"state": ContainerState.UP, "created_at": at, "start": start})
    return Change(job.model_copy(update={"container": up}))


def hibernate(job: JobDocument) -> Change | None:
    """The container is gone (removed after a long pause, or lost with Docker's daemon) while
    the job is paused: keep its disk, and re-run the interrupted step when it resumes."""
    container = job.container
    if container is None or container.state is not ContainerState.UP:
        return None
    update: dict[str, object] = {
        "container": container.model_copy(
            update={"state": ContainerState.HIBERNATED, "frozen_at": None}
        ),
        "status_detail": "hibernated: the sandbox was removed to free its host; resuming "
        "re-creates it and re-runs the interrupted step from its start",
    }
    run = job.sandbox
    if run is not None and run.state in (SandboxState.STARTING, SandboxState.RUNNING):
        update["sandbox"] = run.model_copy(update={"state": SandboxState.REQUESTED})
    return Change(job.model_copy(update=update), [SandboxHibernated()])


def release(job: JobDocument) -> Change | None:
    """The container is gone for good (after its last output was stored); a step it was running
    ends with the job's reason (stopped, cancelled, ...)."""
    container = job.container
    if container is None or container.state is ContainerState.RELEASED:
        return None
    update: dict[str, object] = {
        "container": container.model_copy(
            update={"state": ContainerState.RELEASED, "frozen_at": None}
        )
    }
    run = job.sandbox
    if run is not None and run.state is not SandboxState.EXITED:
        reason = job.reason or FailureReason.SANDBOX_ERROR
        update["sandbox"] = run.model_copy(update={"state": SandboxState.EXITED, "reason": reason})
    return Change(job.model_copy(update=update))


def cleaned(job: JobDocument) -> Change | None:
    """The released sandbox's container (and disk, unless kept) are gone."""
    container = job.container
    if container is None or container.state is not ContainerState.RELEASED or container.cleaned:
        return None
    return Change(
        job.model_copy(update={"container": container.model_copy(update={"cleaned": True})})
    )


def workspace_kept_after_end(job: JobDocument) -> bool:
    """Whether a finished job's disk stays after its container goes.

    The hook file-sync will use to keep a workspace until every output is saved; today only a
    stateful workspace (it belongs to the name, for the next run) is kept.
    """
    return job.stateful
