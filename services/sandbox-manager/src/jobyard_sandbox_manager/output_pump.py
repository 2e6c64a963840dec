"""Reads the runner's records from Docker's log of a sandbox and turns them into stored output
lines (published live on NATS) and step starts and exits (state changes with their events).

Records are applied in the order the runner wrote them, and an output line is numbered from the
runner's own count, so reading the same records again (after a restart) stores nothing twice:
lines already stored are skipped, and starts and exits already applied change nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes, RecordStream
from jobyard_sandbox_manager.domain.records import Record, log_line, parse_record
from jobyard_store import JobDocument, LogLine
from jobyard_worker import Worker

BATCH_LINES: Final = 500
_END: Final = "end"
Item = Record | BaseException | Literal["end"]
OnRecord = Callable[[Record], Awaitable[None]]
OnTick = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Handling:
    """What a run does besides storing lines: apply each start or exit record (`on_control`),
    and look at the job every `tick_seconds`, or at once when `wake` is set (`on_tick` clears
    it)."""

    on_control: OnRecord
    on_tick: OnTick
    tick_seconds: float
    wake: asyncio.Event | None = None


class OutputPump:
    def __init__(self, worker: Worker, sandboxes: DockerSandboxes, batch_seconds: float) -> None:
        self._worker = worker
        self._sandboxes = sandboxes
        self._batch_seconds = batch_seconds

    async def run(
        self,
        job: JobDocument,
        handling: Handling,
        *,
        stored: int | None = None,
        ready: Awaitable[bool] | None = None,
    ) -> None:
        """Follow the sandbox's records until its container stops. `stored`: the job's last
        stored line, when the caller knows it (a sandbox it has just started); `ready`: a
        write the records must wait for (lines go out live meanwhile), False to stop."""
        assert job.container is not None
        base = job.container.log_base_seq
        if stored is None:
            stored = await self._worker.logs.last_seq(job.id)
        since = await self._resume_point(job.id, stored, base)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Item] = asyncio.Queue()
        stream = await asyncio.to_thread(self._sandboxes.follow, job.container.name, since)
        threading.Thread(
            target=self._follow,
            args=(loop, queue, stream),
            daemon=True,  # blocked on Docker until the container stops or the stream closes
            name=f"records-{job.container.name}",
        ).start()
        try:
            await self._consume(job.id, base, stored, queue, handling, ready)
        finally:
            stream.close()  # on an error too: no reader is left behind

    async def _consume(
        self,
        job_id: str,
        base: int,
        stored: int,
        records: asyncio.Queue[Item],
        handling: Handling,
        ready: Awaitable[bool] | None,
    ) -> None:
        """Two steps in a row: lines go out live as soon as they are read, while storing them
        and applying starts and exits (with the periodic tick) follow in order behind: a slow
        store or a long step end never holds up what live viewers see."""
        ordered: asyncio.Queue[LogLine | Item] = asyncio.Queue()
        live = asyncio.create_task(self._show_live(job_id, base, stored, records, ordered))
        try:
            if ready is None or await ready:
                await self._apply(job_id, ordered, handling)
        finally:
            live.cancel()  # it only publishes: nothing durable is cut short

    async def _show_live(
        self,
        job_id: str,
        base: int,
        stored: int,
        records: asyncio.Queue[Item],
        ordered: asyncio.Queue[LogLine | Item],
    ) -> None:
        """Publish each new output line (those read together in one message), and pass every
        record on, in order, to be applied. A failure is handed on too, so that the run fails
        as it would have here."""
        try:
            subject = self._worker.names.live_logs_subject(job_id)
            while True:
                items = [await records.get()]
                while not records.empty():
                    items.append(records.get_nowait())
                fresh: list[LogLine] = []
                for item in items:
                    if isinstance(item, Record) and item.kind == "out":
                        line = log_line(item, base)
                        if line.seq <= stored:
                            continue  # stored before a restart: read again only to find our place
                        stored = line.seq
                        fresh.append(line)
                        ordered.put_nowait(line)
                    else:
                        ordered.put_nowait(item)
                if fresh:
                    lines = [line.model_dump(mode="json") for line in fresh]
                    await self._worker.live.publish(subject, {"job_id": job_id, "lines": lines})
                if not isinstance(items[-1], Record):
                    return  # the stream ended or broke: nothing more comes
        except Exception as exc:
            ordered.put_nowait(exc)

    async def _apply(
        self,
        job_id: str,
        ordered: asyncio.Queue[LogLine | Item],
        handling: Handling,
    ) -> None:
        """Store lines in batches, and apply starts and exits once the lines before them are
        stored (a step's output is whole when its end is recorded)."""
        loop = asyncio.get_running_loop()
        batch: list[LogLine] = []
        last_flush = next_tick = loop.time()
        while True:
            wake = handling.wake
            if loop.time() >= next_tick or (wake is not None and wake.is_set()):
                await handling.on_tick()
                next_tick = loop.time() + handling.tick_seconds
            try:
                item = await asyncio.wait_for(ordered.get(), self._batch_seconds)
            except TimeoutError:
                item = None
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, LogLine):
                batch.append(item)
            elif isinstance(item, Record):
                await self._store(job_id, batch)
                batch = []
                await handling.on_control(item)
            quiet = item is None or loop.time() - last_flush >= self._batch_seconds
            if batch and (quiet or len(batch) >= BATCH_LINES or item == _END):
                await self._store(job_id, batch)
                batch, last_flush = [], loop.time()
            if item == _END:
                return

    async def _resume_point(self, job_id: str, stored: int, base: int) -> datetime | None:
        """Where to start reading: a little before the last stored line of this sandbox (Docker
        filters by time; the overlap is skipped by number)."""
        if stored <= base:
            return None
        last = await self._worker.logs.tail(job_id, 1)
        return last[0].at - timedelta(seconds=1) if last else None

    async def _store(self, job_id: str, lines: list[LogLine]) -> None:
        if lines:
            await self._worker.logs.append(job_id, lines)

    @staticmethod
    def _follow(
        loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Item], stream: RecordStream
    ) -> None:
        try:
            for raw in stream:
                record = parse_record(raw)
                if record is not None:
                    loop.call_soon_threadsafe(queue.put_nowait, record)
        except BaseException as exc:
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _END)
