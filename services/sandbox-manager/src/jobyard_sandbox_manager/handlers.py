"""Where messages enter the sandbox-manager: run requests are recorded (then driven by the
supervisor from stored state); a finished job's containers go, and so does its workspace unless
it is a stateful workspace that a job of that name still needs."""

from __future__ import annotations

import asyncio
from typing import Any

from jobyard_contracts import TERMINAL_EVENTS, Envelope, JobDeleted, RunStep, parse_envelope
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.domain import runs
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_sandbox_manager.supervisor import RunSupervisor
from jobyard_store import ImageRegistry
from jobyard_worker import Worker


def register(
    worker: Worker,
    supervisor: RunSupervisor,
    sandboxes: DockerSandboxes,
    settings: SandboxManagerSettings,
) -> None:
    namespace = worker.names.namespace
    images = ImageRegistry(worker.db)

    async def register_images() -> None:
        """Offer this host's images (with manifests) before taking any work."""
        for name, reference in settings.images.items():
            manifest = await asyncio.to_thread(sandboxes.manifest, reference)
            if manifest is None:
                worker.log.warning("image missing on this host", image=name, reference=reference)
                await images.withdraw(name, settings.host_id)
            else:
                await images.register(name, reference, settings.host_id, manifest)

    worker.on_start(register_images)

    @worker.subscriber("accept-run", RunStep)
    async def on_run_step(msg: Envelope[RunStep]) -> None:
        await worker.apply(msg, lambda job: runs.accept_run(job, msg.payload))
        supervisor.wake()

    for finished in TERMINAL_EVENTS:

        @worker.subscriber(f"clean-up-on-{finished.TYPE}", finished)
        async def on_job_finished(raw: dict[str, Any]) -> None:
            msg = parse_envelope(raw)
            await asyncio.to_thread(sandboxes.remove_job_containers, namespace, msg.job_id)
            job = await worker.jobs.get(msg.job_id)
            if job is not None and not job.stateful:
                volume = runs.workspace_volume(worker.names, job)
                await asyncio.to_thread(sandboxes.remove_volume, volume)

    @worker.subscriber("clean-up-deleted", JobDeleted)
    async def on_job_deleted(msg: Envelope[JobDeleted]) -> None:
        await asyncio.to_thread(sandboxes.remove_job_containers, namespace, msg.job_id)
        if msg.payload.stateful:
            still_needed = await worker.jobs.find(
                runs.stateful_workspace_in_use_query(msg.user_id, msg.payload.name, msg.job_id),
                limit=1,
            )
            if still_needed:
                return
            volume = runs.stateful_volume(worker.names, msg.user_id, msg.payload.name)
        else:
            volume = runs.job_volume(worker.names, msg.job_id)
        await asyncio.to_thread(sandboxes.remove_volume, volume)

    worker.background(supervisor.run_forever)
