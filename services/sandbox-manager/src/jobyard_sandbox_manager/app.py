"""The sandbox-manager process: `jobyard-sandbox-manager` (one per Docker host)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import docker

from jobyard_contracts import Runtime
from jobyard_logging import get_logger
from jobyard_objects import ObjectStore
from jobyard_sandbox_manager import handlers, host_report
from jobyard_sandbox_manager.adapters.disks import Disks
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.adapters.inboxes import Inboxes
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_sandbox_manager.supervisor import SandboxSupervisor
from jobyard_sandbox_manager.warm_pool import WarmPool
from jobyard_sandbox_manager.watchdog import Watchdog
from jobyard_store import HostRegistry, ImageRegistry
from jobyard_worker import Worker

WATCHDOG_SECONDS = 1.0
worker_log = get_logger("sandbox-manager")


def choose_runtime(settings: SandboxManagerSettings, docker_sandboxes: DockerSandboxes) -> Runtime:
    """The setting if given; else gVisor when Docker has it registered and it passes a smoke
    test (some gVisor releases break everyday tools, e.g. Debian's 2022 build fails `ls`),
    else runc."""
    if settings.runtime is not None:
        return settings.runtime
    if Runtime.GVISOR.value not in docker_sandboxes.runtimes():
        return Runtime.RUNC
    images = list(settings.images.values())
    if images and docker_sandboxes.passes_smoke_test(Runtime.GVISOR.value, images[-1]):
        return Runtime.GVISOR
    worker_log.warning("gVisor is registered but fails its smoke test; sandboxes use runc")
    return Runtime.RUNC


def create_worker(settings: SandboxManagerSettings | None = None) -> Worker:
    settings = settings or SandboxManagerSettings()
    worker = Worker("sandbox-manager", settings.infra)
    docker_sandboxes = DockerSandboxes(docker.from_env(timeout=300), user=settings.sandbox_user)
    runtime = choose_runtime(settings, docker_sandboxes)
    disks, inboxes = Disks(settings.host_dir / "disks"), Inboxes(settings.host_dir / "inboxes")
    warm_pool = WarmPool(worker, docker_sandboxes, disks, inboxes, settings, runtime)
    supervisor = SandboxSupervisor(
        worker,
        docker_sandboxes,
        disks,
        inboxes,
        ObjectStore(settings.objects, settings.bucket),
        warm_pool,
        settings,
        runtime,
    )
    watchdog = Watchdog(worker.jobs, docker_sandboxes, supervisor, settings)
    handlers.register(worker, supervisor, docker_sandboxes, settings.host_id)
    images = ImageRegistry(worker.db)
    hosts = HostRegistry(worker.db)
    offered: list[str] = []

    async def register_images() -> None:
        """Offer this host's images (with manifests) before taking any work."""
        for name, reference in settings.images.items():
            manifest = await asyncio.to_thread(docker_sandboxes.manifest, reference)
            if manifest is None:
                worker.log.warning("image missing on this host", image=name, reference=reference)
                await images.withdraw(name, settings.host_id)
            else:
                await images.register(name, reference, settings.host_id, manifest)
                offered.append(name)
        worker.log.info("sandbox host ready", host=settings.host_id, runtime=runtime.value)

    async def withdraw() -> None:
        await hosts.withdraw(settings.host_id)
        for name in offered:
            await images.withdraw(name, settings.host_id)

    worker.on_start(register_images)
    worker.on_stop(withdraw)
    worker.on_stop(warm_pool.drain)
    worker.background(supervisor.reconcile_forever)
    worker.background(lambda: warm_pool.run(lambda: supervisor.sandboxes_running))
    worker.every(WATCHDOG_SECONDS, watchdog.check_once)
    worker.every(
        settings.report_seconds,
        lambda: host_report.report(hosts, supervisor, warm_pool, settings, offered, runtime),
    )
    return worker


def main() -> None:
    settings = SandboxManagerSettings()
    worker = create_worker(settings)
    # Docker calls wait on I/O in threads: the default pool (cores + 4) would queue them behind
    # each other on a small host with many sandboxes.
    worker.on_start(_wide_thread_pool)
    worker.run(settings.health_host, settings.health_port)


async def _wide_thread_pool() -> None:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=64))
