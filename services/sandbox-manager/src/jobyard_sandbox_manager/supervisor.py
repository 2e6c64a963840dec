"""Drives sandbox runs from their stored state, never from an unacknowledged message.

A run is claimed from `requested`, its container started, its output stored line by line and
published live, its exit classified and recorded. Everything is recomputed from the job
document and Docker, so a manager killed at any point picks its runs up again on restart:
containers are found by name, output resumes after the lines already stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from datetime import UTC, datetime
from typing import Final, Literal

from jobyard_contracts import FailureReason
from jobyard_logging import bound
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.domain import runs
from jobyard_sandbox_manager.domain.log_lines import Frame, in_time_order
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_store import JobDocument, LogLine, SandboxState, SshEndpoint, Stream
from jobyard_worker import Worker

STREAMS: Final[tuple[Stream, Stream]] = ("stdout", "stderr")
BATCH_LINES: Final = 500
STATUS_CHECK_SECONDS: Final = 0.5
_END: Final = "end"


class RunSupervisor:
    def __init__(
        self, worker: Worker, sandboxes: DockerSandboxes, settings: SandboxManagerSettings
    ) -> None:
        self._worker = worker
        self._jobs = worker.jobs
        self._sandboxes = sandboxes
        self._settings = settings
        self._host = settings.host_id
        self._host_policy = settings.host_policy()
        self._active: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        mine = await self._jobs.find(
            {
                "sandbox.host": self._host,
                "sandbox.state": {"$in": [SandboxState.STARTING, SandboxState.RUNNING]},
            }
        )
        for job in mine:
            self._worker.log.info("reattaching to sandbox", job_id=job.id)
            self._spawn(job.id)
        while True:
            await self._claim_requested()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_seconds)
            self._wake.clear()

    async def _claim_requested(self) -> None:
        room = self._settings.max_running - len(self._active)
        if room <= 0:
            return
        requested = await self._jobs.find(
            {"sandbox.state": SandboxState.REQUESTED}, sort=[("created_at", 1)], limit=room
        )
        for job in requested:
            assert job.sandbox is not None
            name = runs.container_name(self._worker.names, job.id, job.sandbox.step_index)
            ssh = self._ssh_endpoint() if job.persistent else None
            applied = await self._jobs.change(
                job.id, lambda j, name=name, ssh=ssh: runs.claim_run(j, self._host, name, ssh)
            )
            run = applied.job.sandbox
            if run and run.host == self._host and run.state is SandboxState.STARTING:
                self._spawn(job.id)

    def _ssh_endpoint(self) -> SshEndpoint:
        with socket.socket() as probe:  # a free port now; the container binds it right after
            probe.bind((self._settings.ssh_host, 0))
            port = int(probe.getsockname()[1])
        return SshEndpoint(host=self._settings.ssh_host, port=port, username="sandbox")

    def _spawn(self, job_id: str) -> None:
        if job_id in self._active:
            return
        task = asyncio.create_task(self._drive(job_id))
        self._active[job_id] = task
        task.add_done_callback(lambda _: (self._active.pop(job_id, None), self.wake()))

    async def _drive(self, job_id: str) -> None:
        with bound(job_id=job_id):
            try:
                await self._drive_run(job_id)
            except Exception as exc:
                self._worker.log.exception("sandbox run failed")
                await self._record_exit(job_id, -1, FailureReason.SANDBOX_ERROR, str(exc)[-2000:])

    async def _drive_run(self, job_id: str) -> None:
        job = await self._jobs.get(job_id)
        run = job.sandbox if job else None
        if job is None or run is None or run.host != self._host:
            return
        if run.state not in (SandboxState.STARTING, SandboxState.RUNNING):
            return
        spec = runs.container_spec(job, self._worker.names, self._host_policy)
        if run.state is SandboxState.STARTING and job.status.is_terminal:
            # Stopped before its container existed: never start it.
            await self._record_exit(job_id, -1, FailureReason.STOPPED, "")
            return
        if run.state is SandboxState.STARTING:
            await asyncio.to_thread(self._sandboxes.ensure_started, spec)
            applied = await self._worker.relay.change(job_id, runs.record_started)
            job = applied.job
        assert job.sandbox is not None
        deadline = runs.deadline(job.sandbox, job.resources.timeout_seconds)
        killed_for_timeout = await self._store_output(job, spec.name, deadline)
        state = await asyncio.to_thread(self._sandboxes.state, spec.name)
        if state is None:
            await self._record_exit(job_id, -1, FailureReason.SANDBOX_ERROR, "container vanished")
            return
        exit_code = state.exit_code
        if state.running:  # logs ended without the process exiting (daemon restart): wait
            exit_code = await asyncio.to_thread(self._sandboxes.wait, spec.name)
        # After a restart the kill may predate us: a SIGKILL past the deadline is the timeout.
        overdue = deadline is not None and datetime.now(UTC) >= deadline and exit_code == 137
        reason = runs.classify_exit(
            exit_code, oom_killed=state.oom_killed, killed_for_timeout=killed_for_timeout or overdue
        )
        tail = await self._worker.logs.tail(
            job_id, runs.STDERR_TAIL_LINES, step=job.sandbox.step_index, stream="stderr"
        )
        await self._record_exit(job_id, exit_code, reason, "\n".join(line.text for line in tail))
        await asyncio.to_thread(self._sandboxes.remove, spec.name)

    async def _record_exit(
        self, job_id: str, exit_code: int, reason: FailureReason | None, stderr_tail: str
    ) -> None:
        await self._worker.relay.change(
            job_id, lambda j: runs.record_exited(j, exit_code, reason, stderr_tail)
        )

    async def _store_output(
        self, job: JobDocument, container: str, deadline: datetime | None
    ) -> bool:
        """Store and publish both streams until the container exits; kill it at the deadline.

        Returns whether it was killed for exceeding its timeout.
        """
        assert job.sandbox is not None
        step = job.sandbox.step_index
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Frame | BaseException | Literal["end"]] = asyncio.Queue()
        for stream in STREAMS:
            skip = await self._worker.logs.count(job.id, step, stream)
            threading.Thread(
                target=self._pump,
                args=(loop, queue, container, stream, skip),
                daemon=True,  # blocked on Docker until the container exits; never joined
                name=f"logs-{container}-{stream}",
            ).start()
        seq = await self._worker.logs.last_seq(job.id)
        batch: list[Frame] = []
        open_streams, last_flush = len(STREAMS), loop.time()
        killed_for_timeout = stopping = False
        next_status_check = loop.time() + STATUS_CHECK_SECONDS
        while open_streams:
            if deadline is not None and not killed_for_timeout and datetime.now(UTC) >= deadline:
                await asyncio.to_thread(self._sandboxes.kill, container)
                killed_for_timeout = True
            if not stopping and loop.time() >= next_status_check:
                # A stop (or delete) is a status change on the job: kill the sandbox then.
                next_status_check = loop.time() + STATUS_CHECK_SECONDS
                current = await self._jobs.get(job.id)
                if current is None or current.status.is_terminal:
                    await asyncio.to_thread(self._sandboxes.kill, container)
                    stopping = True
            try:
                item = await asyncio.wait_for(queue.get(), self._settings.log_batch_seconds)
            except TimeoutError:
                item = None
            if item == _END:
                open_streams -= 1
            elif isinstance(item, BaseException):
                raise item
            elif isinstance(item, Frame):
                batch.append(item)
            quiet = item is None or loop.time() - last_flush >= self._settings.log_batch_seconds
            if batch and (quiet or len(batch) >= BATCH_LINES or not open_streams):
                seq = await self._store_batch(job.id, step, seq, batch)
                batch, last_flush = [], loop.time()
        return killed_for_timeout

    async def _store_batch(self, job_id: str, step: int, seq: int, batch: list[Frame]) -> int:
        lines = [
            LogLine(seq=seq + offset, step=step, stream=f.stream, text=f.text, at=f.at)
            for offset, f in enumerate(in_time_order(batch), start=1)
        ]
        await self._worker.logs.append(job_id, lines)
        await self._worker.live.publish(
            self._worker.names.live_logs_subject(job_id),
            {"job_id": job_id, "lines": [line.model_dump(mode="json") for line in lines]},
        )
        return lines[-1].seq

    def _pump(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[Frame | BaseException | Literal["end"]],
        container: str,
        stream: Stream,
        skip: int,
    ) -> None:
        try:
            for frame in self._sandboxes.follow(container, stream, skip):
                loop.call_soon_threadsafe(queue.put_nowait, frame)
        except BaseException as exc:
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _END)
