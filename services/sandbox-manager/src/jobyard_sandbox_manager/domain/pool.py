"""The warm pool: sandboxes a host starts before any job asks, so a job's first step need not
wait for a container to be created.

A pool member is an ordinary sandbox (the runner waiting for its first step, the same
hardening, its own fresh disk) started at the usual job size; a job that fits claims one,
gets its own limits applied if they differ, and keeps it for its whole life: a member serves
exactly one job and never returns to the pool. Pure: no Docker, no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from jobyard_contracts import NetworkPolicy, Runtime, WireNames
from jobyard_sandbox_manager.domain.sandboxes import (
    ContainerSpec,
    HostPolicy,
    Limits,
    sandbox_env,
    sandbox_mounts,
)
from jobyard_store import JobDocument

POOL_LABEL = "jobyard.pool"
"""Names the pool (image, runtime, network) a sandbox was started for; stays after a claim."""
CPU_PERIOD_US = 100_000
RUNTIMES_WITH_LIVE_LIMITS = frozenset({Runtime.RUNC})
"""Runtimes whose running sandboxes Docker can give new limits (`docker update`); gVisor's
`runsc` has no `update`, so its hosts keep no pool and every job there starts cold."""


@dataclass(frozen=True, slots=True, order=True)
class PoolKey:
    """Which jobs a pool member can serve: same image, runtime and network policy."""

    image: str
    runtime: Runtime
    network: NetworkPolicy

    @property
    def label(self) -> str:
        return f"{self.image}.{self.runtime.value}.{self.network.value}"


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    """How many sandboxes this host keeps warm, from the sandbox-manager's settings."""

    sizes: dict[str, int]
    """Image name -> idle members kept per runtime and network policy while the pool is busy."""
    networks: tuple[NetworkPolicy, ...]
    max_idle: int
    """Idle members on this host at most, over all pools."""
    idle_size: int
    """What a pool shrinks to once nothing was claimed from it for `idle_seconds`."""
    idle_seconds: float
    memory_mb: int
    """Memory of an idle member (with 1 cpu): a job of that size needs no new limits."""

    def keys(self, host: HostPolicy) -> list[PoolKey]:
        if host.runtime not in RUNTIMES_WITH_LIVE_LIMITS:
            return []
        return [
            PoolKey(image, host.runtime, network)
            for image, size in sorted(self.sizes.items())
            if size > 0 and image in host.images
            for network in self.networks
        ]


def pool_for(job: JobDocument, host: HostPolicy, policy: PoolPolicy) -> PoolKey | None:
    """The pool that can serve the job's sandbox, or None for the cold path: a stateful
    workspace (its disk belongs to the name), a persistent job (SSH on the host network), an
    IPv6 lease (set at creation), another disk size than the pool's, a re-creation after a
    hibernation (its disk exists), or an image, runtime or network the host keeps no pool of."""
    container = job.container
    if container is None or container.generation != 1:
        return None
    if job.stateful or job.persistent or job.ipv6_lease:
        return None
    if job.resources.disk_mb not in (None, host.default_disk_mb):
        return None
    key = PoolKey(job.image, container.runtime, job.network)
    return key if key in policy.keys(host) else None


def members_wanted(
    policy: PoolPolicy,
    host: HostPolicy,
    idle: Counter[PoolKey],
    quiet: set[PoolKey],
    sandboxes_running: int,
    max_running: int,
) -> list[PoolKey]:
    """The members to start now, in order: each pool up to its size (`idle_size` while quiet),
    while the host's idle members stay within `max_idle` and, with its jobs' sandboxes, within
    `max_running` (a host full of jobs keeps no pool)."""
    room = min(
        policy.max_idle - sum(idle.values()),
        max_running - sandboxes_running - sum(idle.values()),
    )
    wanted: list[PoolKey] = []
    for key in policy.keys(host):
        target = policy.idle_size if key in quiet else policy.sizes[key.image]
        wanted += [key] * max(0, min(target, policy.sizes[key.image]) - idle[key])
    return wanted[: max(0, room)]


def members_surplus(
    policy: PoolPolicy, idle: Counter[PoolKey], quiet: set[PoolKey]
) -> Counter[PoolKey]:
    """How many idle members of each quiet pool to remove (down to `idle_size`)."""
    return Counter(
        {key: idle[key] - policy.idle_size for key in quiet if idle[key] > policy.idle_size}
    )


def member_name(names: WireNames, host: str, token: str) -> str:
    """A member's container (and disk, and inbox) name; a claim renames the container to the
    job's own, so a member still carrying this name has served no job."""
    return f"{member_prefix(names, host)}{token}"


def member_prefix(names: WireNames, host: str) -> str:
    return f"{names.namespace}-pool-{host}-"


def member_spec(
    names: WireNames,
    host_id: str,
    host: HostPolicy,
    policy: PoolPolicy,
    key: PoolKey,
    name: str,
    *,
    disk: Path,
    inbox: Path,
    runner: Path,
) -> ContainerSpec:
    """A member's sandbox: hardened exactly as a job's of the same image, runtime and network
    (a pool serves no persistent or root job), at the pool's size until claimed.
    No job env: the job's reaches its steps through their requests. Pools are kept under runc
    only (`RUNTIMES_WITH_LIVE_LIMITS`), where no sandbox runs as root."""
    limits = member_limits(policy)
    return ContainerSpec(
        name=name,
        image=host.images[key.image],
        runtime=key.runtime,
        docker_runtime=key.runtime.value,
        user=host.sandbox_user,
        env=sandbox_env({}, as_root=False),
        network_mode=host.networks[key.network],
        nano_cpus=0,
        cpu_quota_us=limits.cpu_quota_us,
        memory_bytes=limits.memory_bytes,
        pids_limit=host.pids_limit,
        read_only=True,
        drop_capabilities=True,
        workspace_volume=None,
        workspace_device=str(disk / "workspace"),
        mounts=sandbox_mounts(disk=disk, inbox=inbox, runner=runner, as_root=False),
        labels={
            "jobyard.namespace": names.namespace,
            "jobyard.host": host_id,
            POOL_LABEL: key.label,
        },
    )


def member_limits(policy: PoolPolicy) -> Limits:
    """What an idle member runs with: 1 cpu and the pool's memory."""
    return Limits(
        cpu_period_us=CPU_PERIOD_US,
        cpu_quota_us=CPU_PERIOD_US,
        memory_bytes=policy.memory_mb * 2**20,
    )


def claim_limits(job: JobDocument, host: HostPolicy, policy: PoolPolicy) -> Limits | None:
    """The job's own cpu and memory, to apply to the member it claims (pids are the host's,
    already set); None when the member already has them (`docker update` costs a runc call
    on the way to the first step)."""
    vcpus = min(job.resources.vcpus, host.host_cpus)
    wanted = Limits(
        cpu_period_us=CPU_PERIOD_US,
        cpu_quota_us=vcpus * CPU_PERIOD_US,
        memory_bytes=job.resources.memory_mb * 2**20,
    )
    return None if wanted == member_limits(policy) else wanted
