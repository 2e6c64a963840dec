"""Docker Engine through the docker SDK (blocking; callers run it in threads).

Every container runs the step script as its main process, as a non-root user, with all
capabilities dropped, no new privileges, no network (persistent jobs: the configured network
for SSH), and cpu, memory (no extra swap) and pid limits. Its /workspace is a named volume that
outlives the container, for later steps and, for stateful jobs, later runs of the name.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, ContainerError, ImageNotFound, NotFound
from docker.models.containers import Container

from jobyard_sandbox_manager.domain.log_lines import Frame, parse_frame
from jobyard_sandbox_manager.domain.runs import ContainerSpec
from jobyard_store import Stream


@dataclass(frozen=True, slots=True)
class ContainerState:
    running: bool
    exit_code: int
    oom_killed: bool


class DockerSandboxes:
    def __init__(self, client: docker.DockerClient, user: str) -> None:
        self._docker = client
        self._user = user

    def ensure_started(self, spec: ContainerSpec) -> None:
        """Create and start the container unless a previous attempt already did."""
        container = self._find(spec.name)
        if container is None:
            try:
                container = self._create(spec)
            except APIError as exc:
                if exc.status_code != 409:  # 409: a concurrent attempt created it first
                    raise
                container = self._docker.containers.get(spec.name)
        if container.status == "created":
            container.start()

    def _create(self, spec: ContainerSpec) -> Container:
        return self._docker.containers.create(
            spec.image,
            command=spec.command,
            name=spec.name,
            user=self._user,
            working_dir="/workspace",
            environment=spec.env,
            labels=spec.labels,
            network_mode=spec.network_mode,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            nano_cpus=spec.nano_cpus,
            mem_limit=spec.memory_bytes,
            memswap_limit=spec.memory_bytes,
            pids_limit=spec.pids_limit,
            volumes={spec.workspace_volume: {"bind": "/workspace", "mode": "rw"}},
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

    def state(self, name: str) -> ContainerState | None:
        container = self._find(name)
        if container is None:
            return None
        state = container.attrs["State"]
        return ContainerState(
            running=bool(state["Running"]),
            exit_code=int(state["ExitCode"]),
            oom_killed=bool(state.get("OOMKilled")),
        )

    def follow(self, name: str, stream: Stream, skip: int) -> Iterator[Frame]:
        """Every frame of one stream from the start, minus the first `skip`, until exit."""
        frames = self._docker.api.logs(
            name,
            stdout=stream == "stdout",
            stderr=stream == "stderr",
            stream=True,
            follow=True,
            timestamps=True,
        )
        for position, raw in enumerate(frames):
            if position >= skip:
                yield parse_frame(stream, raw)

    def wait(self, name: str) -> int:
        return int(self._docker.api.wait(name)["StatusCode"])

    def kill(self, name: str) -> None:
        with suppress(NotFound, APIError):  # already gone or already stopped
            self._docker.api.kill(name)

    def remove(self, name: str) -> None:
        with contextlib.suppress(NotFound):
            self._docker.api.remove_container(name, force=True)

    def remove_job_containers(self, namespace: str, job_id: str) -> None:
        """Kill and remove every container of a job, whichever step it ran."""
        labels = [f"jobyard.namespace={namespace}", f"jobyard.job_id={job_id}"]
        for container in self._docker.containers.list(all=True, filters={"label": labels}):
            with suppress(NotFound):
                container.remove(force=True)

    def remove_volume(self, name: str) -> None:
        with contextlib.suppress(NotFound):
            self._docker.volumes.get(name).remove(force=True)

    def _find(self, name: str) -> Container | None:
        try:
            return self._docker.containers.get(name)
        except NotFound:
            return None
