"""Limits and budgets of this host's sandboxes, checked every second from stored state: a step
past its timeout is killed, a session that used its budget pauses ("session limit"), and a job
paused for too long is hibernated (its container removed, its disk kept)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from jobyard_contracts import PauseReason
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.domain import limits, sandboxes
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_sandbox_manager.supervisor import SandboxSupervisor
from jobyard_store import JobDocument, JobRepository, SandboxState


class Watchdog:
    def __init__(
        self,
        jobs: JobRepository,
        docker: DockerSandboxes,
        supervisor: SandboxSupervisor,
        settings: SandboxManagerSettings,
    ) -> None:
        self._jobs = jobs
        self._docker = docker
        self._supervisor = supervisor
        self._settings = settings

    async def check_once(self) -> None:
        now = datetime.now(UTC)
        hibernate_after = timedelta(seconds=self._settings.hibernate_after_seconds)
        query = {
            "container.host": self._settings.host_id,
            "container.state": "up",
            "status": {"$in": ["running", "paused"]},
        }
        for job in await self._jobs.find(query):
            if limits.step_overdue(job, now):
                await self._supervisor.kill_for(job, limits.ExitFacts(killed_for_timeout=True))
            elif await self._fork_bomb(job):
                await self._supervisor.kill_for(job, limits.ExitFacts(process_limit_hit=True))
            elif limits.session_exhausted(job, now, self._settings.session_seconds):
                await self._supervisor.freeze(job.id, PauseReason.SESSION_LIMIT)
            elif limits.hibernation_due(job, now, hibernate_after):
                await self._supervisor.change(job.id, sandboxes.hibernate)
                self._supervisor.kick(job.id)

    async def _fork_bomb(self, job: JobDocument) -> bool:
        """A step that keeps hitting the process limit never ends by itself: end it."""
        run, container = job.sandbox, job.container
        if run is None or container is None or run.state is not SandboxState.RUNNING:
            return False
        counters = await asyncio.to_thread(self._docker.counters, container.name)
        refused = counters.pids_limit_hits - run.pids_hits_at_start if counters else 0
        return refused >= self._settings.refused_forks_before_kill
