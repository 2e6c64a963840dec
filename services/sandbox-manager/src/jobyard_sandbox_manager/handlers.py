"""Where messages enter the sandbox-manager. Every command is for one host and arrives on that
host's own queue; each handler records or carries out the change, then leaves the rest to the
job's driver (`supervisor.py`), which works from stored state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from jobyard_contracts import Envelope, PauseSandbox, ReleaseSandbox, ResumeSandbox, RunStep
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.domain import pausing, sandboxes
from jobyard_sandbox_manager.supervisor import SandboxSupervisor
from jobyard_store import ContainerState, workspaces
from jobyard_worker import Worker


def register(
    worker: Worker, supervisor: SandboxSupervisor, docker: DockerSandboxes, host: str
) -> None:
    @worker.host_subscriber("run-step", RunStep, host)
    async def on_run_step(msg: Envelope[RunStep]) -> None:
        await supervisor.accept_run(msg)

    @worker.host_subscriber("pause", PauseSandbox, host)
    async def on_pause(msg: Envelope[PauseSandbox]) -> None:
        await supervisor.freeze(msg.job_id, msg.payload.reason)

    @worker.host_subscriber("resume", ResumeSandbox, host)
    async def on_resume(msg: Envelope[ResumeSandbox]) -> None:
        job = await worker.jobs.get(msg.job_id)
        if job is None or job.container is None or not pausing.resume_wanted(job):
            return
        now = datetime.now(UTC)
        if job.container.state is ContainerState.HIBERNATED:
            await worker.apply(msg, lambda j: pausing.resume(j, now, recreated=True))
        else:
            await asyncio.to_thread(docker.thaw, job.container.name)
            await worker.apply(msg, lambda j: pausing.resume(j, now))
        supervisor.kick(msg.job_id)

    @worker.host_subscriber("release", ReleaseSandbox, host)
    async def on_release(msg: Envelope[ReleaseSandbox]) -> None:
        job = await worker.jobs.get(msg.job_id)
        if job is None:
            await asyncio.to_thread(
                docker.remove_job_containers, worker.names.namespace, msg.job_id
            )
            if msg.payload.delete_workspace:
                await supervisor.remove_disk(workspaces.job_disk_key(worker.names, msg.job_id))
            return
        if job.container is not None and job.container.state is ContainerState.UP:
            await asyncio.to_thread(docker.kill, job.container.name)
        elif job.container is not None:
            await worker.apply(msg, sandboxes.release)
        supervisor.kick(msg.job_id)
