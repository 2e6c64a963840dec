"""Where messages enter the sandbox-manager: run requests are recorded (then driven by the
supervisor from stored state) and finished jobs have their containers and workspace removed."""

from __future__ import annotations

import asyncio
from typing import Any

from jobyard_contracts import TERMINAL_EVENTS, Envelope, RunStep, parse_envelope
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.domain import runs
from jobyard_sandbox_manager.supervisor import RunSupervisor
from jobyard_worker import Worker


def register(worker: Worker, supervisor: RunSupervisor, sandboxes: DockerSandboxes) -> None:
    @worker.subscriber("accept-run", RunStep)
    async def on_run_step(msg: Envelope[RunStep]) -> None:
        await worker.apply(msg, lambda job: runs.accept_run(job, msg.payload))
        supervisor.wake()

    for finished in TERMINAL_EVENTS:

        @worker.subscriber(f"clean-up-on-{finished.TYPE}", finished)
        async def on_job_finished(raw: dict[str, Any]) -> None:
            msg = parse_envelope(raw)
            job = await worker.jobs.get(msg.job_id)
            steps = len(job.steps) if job else 0
            for step in range(steps):
                name = runs.container_name(worker.names, msg.job_id, step)
                await asyncio.to_thread(sandboxes.remove, name)
            volume = runs.workspace_volume(worker.names, msg.job_id)
            await asyncio.to_thread(sandboxes.remove_volume, volume)

    worker.background(supervisor.run_forever)
