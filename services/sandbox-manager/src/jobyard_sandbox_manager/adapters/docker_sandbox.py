"""Docker Engine through the docker SDK (blocking; callers run it in threads).

Every sandbox runs the in-sandbox runner under Docker's init, as a non-root user (root only
inside gVisor, see `domain.sandboxes.runs_as_root`), with all capabilities dropped, no new
privileges, a read-only root filesystem, the job's network policy, and cpu, memory (no extra
swap), pid and disk limits. Its runner's log is capped so a chatty job cannot fill the host.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import docker
from docker.errors import APIError, ContainerError, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import LogConfig, Mount

from jobyard_sandbox_manager.domain.pool import CPU_PERIOD_US, POOL_LABEL
from jobyard_sandbox_manager.domain.records import CgroupCounters
from jobyard_sandbox_manager.domain.sandboxes import ContainerSpec, Limits

LOG_LIMITS = {"max-size": "64m", "max-file": "8"}


class RecordStream(Protocol):
    def __iter__(self) -> Iterator[bytes]: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    running: bool
    paused: bool
    exit_code: int
    oom_killed: bool


class DockerSandboxes:
    def __init__(self, client: docker.DockerClient, user: str) -> None:
        self._docker = client
        self._user = user

    def runtimes(self) -> set[str]:
        return set(self._docker.info().get("Runtimes", {}))

    def passes_smoke_test(self, runtime: str, image: str) -> bool:
        """Everyday tools work in a sandbox of this runtime (`ls`, which needs `statx`)."""
        try:
            self._docker.containers.run(
                image, ["ls", "/"], runtime=runtime, network_mode="none", remove=True
            )
        except (ContainerError, APIError, ImageNotFound):
            return False
        return True

    def ensure_started(self, spec: ContainerSpec) -> bool:
        """Create and start the container unless a previous attempt already did (or a pool
        member was renamed to it); True when it is a pool member. A member that died while
        idle is replaced by a container of the job's own."""
        container = self._find(spec.name)
        if container is not None and is_dead_member(container):
            self.remove(spec.name)
            container = None
        if container is None:
            if spec.workspace_volume is not None:
                self._ensure_volume(spec)
            try:
                container = self._create(spec)
            except APIError as exc:
                if exc.status_code != 409:  # 409: a concurrent attempt created it first
                    raise
                container = self._docker.containers.get(spec.name)
        if container.status == "created":
            container.start()
        return POOL_LABEL in container.labels

    def _ensure_volume(self, spec: ContainerSpec) -> None:
        """The workspace is a named volume bound to the job's disk (`docker volume ls` shows it)."""
        device = spec.workspace_device
        assert spec.workspace_volume is not None
        with suppress(NotFound):
            existing = self._docker.volumes.get(spec.workspace_volume)
            if existing.attrs.get("Options", {}).get("device") == device:
                return
            existing.remove(force=True)
        self._docker.volumes.create(
            spec.workspace_volume,
            driver="local",
            driver_opts={"type": "none", "o": "bind", "device": device},
            labels={"jobyard.namespace": spec.labels["jobyard.namespace"]},
        )

    def _create(self, spec: ContainerSpec) -> Container:
        mounts = [
            Mount(m.target, m.source, type="bind", read_only=m.read_only) for m in spec.mounts
        ]
        if spec.workspace_volume is None:
            mounts.append(Mount("/workspace", spec.workspace_device, type="bind"))
        else:
            mounts.append(Mount("/workspace", spec.workspace_volume, type="volume"))
        return self._docker.containers.create(
            spec.image,
            command=["python3", "-u", "/opt/jobyard/runner.py"],
            name=spec.name,
            runtime=spec.docker_runtime,
            init=True,
            user=spec.user,
            working_dir="/workspace",
            environment=spec.env,
            labels=spec.labels,
            network_mode=spec.network_mode,
            cap_drop=["ALL"] if spec.drop_capabilities else None,
            security_opt=["no-new-privileges"],
            read_only=spec.read_only,
            nano_cpus=spec.nano_cpus or None,
            cpu_period=CPU_PERIOD_US if spec.cpu_quota_us else None,
            cpu_quota=spec.cpu_quota_us or None,
            mem_limit=spec.memory_bytes,
            memswap_limit=spec.memory_bytes,
            pids_limit=spec.pids_limit,
            mounts=mounts,
            log_config=LogConfig(type="json-file", config=LOG_LIMITS),
            stdin_open=False,
            tty=False,
        )

    def manifest(self, reference: str) -> dict[str, Any] | None:
        """What an image says it contains (`jobyard-manifest`), or None if the host lacks it."""
        try:
            self._docker.images.get(reference)
        except ImageNotFound:
            return None
        try:
            output = self._docker.containers.run(
                reference,
                ["jobyard-manifest"],
                remove=True,
                network_mode="none",
                user=self._user,
                cap_drop=["ALL"],
            )
        except ContainerError:
            return {}  # an image without a manifest command is still usable
        return dict(json.loads(output))

    def status(self, name: str) -> ContainerStatus | None:
        container = self._find(name)
        if container is None:
            return None
        state = container.attrs["State"]
        return ContainerStatus(
            running=bool(state["Running"]),
            paused=bool(state.get("Paused")),
            exit_code=int(state["ExitCode"]),
            oom_killed=bool(state.get("OOMKilled")),
        )

    def counters(self, name: str) -> CgroupCounters | None:
        """OOM kills and refused forks so far (cgroup v1, cgroupfs driver); None if unknown."""
        container = self._find(name)
        if container is None:
            return None
        container_id = container.id or ""
        base = Path("/sys/fs/cgroup")
        try:
            oom = (base / "memory/docker" / container_id / "memory.oom_control").read_text()
            pids = (base / "pids/docker" / container_id / "pids.events").read_text()
        except OSError:
            return None
        return CgroupCounters(
            oom_kills=_counter(oom, "oom_kill"), pids_limit_hits=_counter(pids, "max")
        )

    def follow(self, name: str, since: datetime | None) -> RecordStream:
        """The runner's records from `since` (or the start) until the container stops; close
        the stream to stop following earlier."""
        stream: RecordStream = self._docker.api.logs(
            name, stdout=True, stderr=False, stream=True, follow=True, timestamps=True, since=since
        )
        return stream

    def freeze(self, name: str) -> None:
        with suppress(APIError):  # already paused
            self._docker.api.pause(name)

    def thaw(self, name: str) -> None:
        with suppress(APIError):  # not paused
            self._docker.api.unpause(name)

    def kill(self, name: str) -> None:
        self.thaw(name)  # a frozen process only dies once thawed
        with suppress(NotFound, APIError):  # already gone or already stopped
            self._docker.api.kill(name)

    def remove(self, name: str) -> None:
        self.thaw(name)
        with contextlib.suppress(NotFound):
            self._docker.api.remove_container(name, force=True)

    def remove_job_containers(self, namespace: str, job_id: str) -> None:
        """Kill and remove every container of a job, whichever generation it was (a claimed
        pool member has the job's name but not its label)."""
        prefix = f"{namespace}-{job_id}-g"
        for name, labels in self._listed([f"jobyard.namespace={namespace}"]):
            if labels.get("jobyard.job_id") == job_id or name.startswith(prefix):
                self.remove(name)

    def pool_members(self, namespace: str, host: str, prefix: str) -> list[str]:
        """This host's pool members that no job claimed (they still carry a member's name)."""
        labels = [f"jobyard.namespace={namespace}", f"jobyard.host={host}", POOL_LABEL]
        return [name for name, _ in self._listed(labels) if name.startswith(prefix)]

    def _listed(self, labels: list[str]) -> list[tuple[str, dict[str, str]]]:
        """Name and labels of every container with these labels, from Docker's list alone: the
        SDK's `containers.list` inspects each one, which costs a call per container and fails
        when one is removed meanwhile."""
        found = self._docker.api.containers(all=True, filters={"label": labels})
        return [
            (summary["Names"][0].lstrip("/"), summary.get("Labels") or {})
            for summary in found
            if summary.get("Names")
        ]

    def rename(self, name: str, new_name: str) -> None:
        self._docker.api.rename(name, new_name)

    def apply_limits(self, name: str, limits: Limits) -> None:
        """A claimed pool member gets its job's cpu and memory (no extra swap)."""
        self._docker.api.update_container(
            name,
            cpu_period=limits.cpu_period_us,
            cpu_quota=limits.cpu_quota_us,
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
        )

    def remove_volume(self, name: str) -> None:
        with contextlib.suppress(NotFound):
            self._docker.volumes.get(name).remove(force=True)

    def _find(self, name: str) -> Container | None:
        try:
            return self._docker.containers.get(name)
        except NotFound:
            return None


def is_dead_member(container: Container) -> bool:
    return POOL_LABEL in container.labels and container.status in ("exited", "dead")


def _counter(text: str, name: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0
