"""The sandbox-manager process: `jobyard-sandbox-manager` (one per Docker host)."""

from __future__ import annotations

import docker

from jobyard_sandbox_manager import handlers
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_sandbox_manager.supervisor import RunSupervisor
from jobyard_worker import Worker


def create_worker(settings: SandboxManagerSettings | None = None) -> Worker:
    settings = settings or SandboxManagerSettings()
    worker = Worker("sandbox-manager", settings.infra)
    sandboxes = DockerSandboxes(docker.from_env(), user=settings.sandbox_user)
    supervisor = RunSupervisor(worker, sandboxes, settings)
    handlers.register(worker, supervisor, sandboxes, settings)
    return worker


def main() -> None:
    settings = SandboxManagerSettings()
    create_worker(settings).run(settings.health_host, settings.health_port)
