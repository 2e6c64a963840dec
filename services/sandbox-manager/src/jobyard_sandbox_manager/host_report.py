"""This host's report to the scheduler (what it has and how much of it is in use), and the
sandboxes by state for Prometheus."""

from __future__ import annotations

from datetime import UTC, datetime

from jobyard_contracts import Runtime
from jobyard_metrics import SANDBOXES
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_sandbox_manager.supervisor import SandboxSupervisor
from jobyard_sandbox_manager.warm_pool import WarmPool
from jobyard_store import HostRegistry, HostReport


async def report(
    hosts: HostRegistry,
    supervisor: SandboxSupervisor,
    warm_pool: WarmPool,
    settings: SandboxManagerSettings,
    images: list[str],
    runtime: Runtime,
) -> None:
    running, paused = supervisor.containers_by_state()
    SANDBOXES.labels(host=settings.host_id, state="running").set(running)
    SANDBOXES.labels(host=settings.host_id, state="paused").set(paused)
    await hosts.report(
        HostReport(
            _id=settings.host_id,
            cpus=settings.host_cpus,
            # Idle warm sandboxes are not jobs (no slot), but their memory is not offered.
            memory_mb=settings.host_memory_mb - warm_pool.reserved_memory_mb,
            max_sandboxes=settings.max_running,
            sandboxes=supervisor.sandboxes_running,
            images=images,
            runtime=runtime.value,
            reported_at=datetime.now(UTC),
        )
    )
