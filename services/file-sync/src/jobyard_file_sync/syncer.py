"""Follows the workspace of every job on this host and saves its outputs as they are produced.

One task per job, from the job's first sandbox until its final sync: inotify (watchfiles)
wakes it when something changes, and a full rescan runs every `rescan_seconds` anyway, so a
lost event delays a file, never loses it. A pass saves files that have settled; a sync (a step
or the job ended: the sandbox-manager waits for it) saves everything there is, settled or not,
plus the steps' scripts and, at the end, the execution log. All of it is recomputed from the
job document, the file records and the workspace, so a restarted file-sync simply carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import tempfile
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from watchfiles import awatch

from jobyard_contracts import FileKind, StepStatus
from jobyard_file_sync.adapters import workspace
from jobyard_file_sync.domain import outputs
from jobyard_file_sync.domain.outputs import FileStat
from jobyard_file_sync.saver import FileSaver
from jobyard_file_sync.settings import FileSyncSettings
from jobyard_logging import bound
from jobyard_metrics import FILE_SYNC_BACKLOG
from jobyard_store import JobDocument, JobNotFoundError, SandboxState, workspaces
from jobyard_store.files import FileRepository
from jobyard_worker import Worker

LOG_PAGE = 1000


class OutputSyncer:
    def __init__(
        self, worker: Worker, saver: FileSaver, files: FileRepository, settings: FileSyncSettings
    ) -> None:
        self._worker = worker
        self._jobs = worker.jobs
        self._saver = saver
        self._files = files
        self._settings = settings
        self._settle = timedelta(seconds=settings.settle_seconds)
        self._followed: dict[str, asyncio.Task[None]] = {}
        self._syncing: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._handled: dict[str, dict[str, FileStat]] = {}
        self._waiting: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        FILE_SYNC_BACKLOG.set_function(self._files_waiting)

    async def reconcile_forever(self) -> None:
        """Follow every job of this host until its final sync; catch up on syncs asked for
        while this file-sync was down."""
        while True:
            try:
                await self._reconcile_once()
            except Exception:  # the store is unavailable: the next round tries again
                self._worker.log.warning("reconcile failed", exc_info=True)
            await asyncio.sleep(self._settings.poll_seconds)

    async def _reconcile_once(self) -> None:
        for job in await self._jobs.find(self._mine_query()):
            self._follow(job.id)
            if outputs.sync_wanted(job):
                self.request_sync(job.id)

    def request_sync(self, job_id: str) -> None:
        """Sync the job as its document asks, in a task of its own: a job with a huge
        workspace never holds up another job's step end. The document is the request, so
        a sync lost with a crash is found again by the reconcile loop."""
        if job_id in self._syncing:
            self._again.add(job_id)
            return
        self._syncing[job_id] = asyncio.create_task(self._sync_as_asked(job_id))

    async def _sync_as_asked(self, job_id: str) -> None:
        with bound(job_id=job_id):
            try:
                while True:
                    self._again.discard(job_id)
                    job = await self._jobs.get(job_id)
                    if job is None or not outputs.sync_wanted(job):
                        if job_id not in self._again:
                            return
                        continue
                    await self.sync(job_id, job.files.requested_step, job.files.final_requested)
            except Exception:
                self._worker.log.warning("sync failed; the reconcile loop retries", exc_info=True)
            finally:
                # Here, not in a done callback: a request arriving between the task's end and
                # its callback would be taken as already under way, and wait for the reconcile.
                self._syncing.pop(job_id, None)

    def _mine_query(self) -> dict[str, Any]:
        return {
            "container.host": self._settings.host_id,
            "files.final_synced": {"$ne": True},
        }

    def _follow(self, job_id: str) -> None:
        if job_id in self._followed:
            return
        task = asyncio.create_task(self._follow_job(job_id))
        self._followed[job_id] = task
        task.add_done_callback(lambda _: self._followed.pop(job_id, None))

    async def _follow_job(self, job_id: str) -> None:
        with bound(job_id=job_id):
            changed, stop = asyncio.Event(), asyncio.Event()
            watcher: asyncio.Task[None] | None = None
            pending = False
            try:
                while True:
                    job = await self._jobs.get(job_id)
                    if job is None or job.files.final_synced or job.deleted_at is not None:
                        return
                    root = self._root(job)
                    if watcher is None and root.is_dir():
                        watcher = asyncio.create_task(self._watch(root, changed, stop))
                    if root.is_dir():
                        async with self._lock(job_id):
                            pending = await self._save_pass(job, root, settled_only=True)
                    wait = self._settings.settle_seconds if pending else self._rescan_seconds(job)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), wait)
                    changed.clear()
            except Exception:
                self._worker.log.warning("following the workspace failed", exc_info=True)
            finally:
                stop.set()
                if watcher is not None:
                    watcher.cancel()

    def _rescan_seconds(self, job: JobDocument) -> float:
        # A workspace not mounted yet is looked at again soon.
        return self._settings.rescan_seconds if self._root(job).is_dir() else 0.5

    async def _watch(self, root: Path, changed: asyncio.Event, stop: asyncio.Event) -> None:
        with contextlib.suppress(Exception):  # the rescan still saves everything
            async for _ in awatch(root, stop_event=stop, debounce=200, recursive=True):
                changed.set()

    async def sync(self, job_id: str, step: int, final: bool) -> None:
        """Save everything the workspace holds now, then record the job's outputs synced."""
        with bound(job_id=job_id):
            async with self._lock(job_id):
                job = await self._jobs.get(job_id)
                if job is None:
                    return
                if job.deleted_at is None:
                    root = self._root(job)
                    if root.is_dir():
                        await self._save_pass(job, root, settled_only=False, sync_step=step)
                    await self._save_scripts(job, everything=final, step=step)
                    if final:
                        await self._save_log(job)
                count, size = await self._totals(job_id)
                with contextlib.suppress(JobNotFoundError):  # deleted and purged meanwhile
                    await self._worker.relay.change(
                        job_id, lambda j: outputs.synced(j, step, final, count, size)
                    )
        if final:  # nothing of the job is saved any more
            self._locks.pop(job_id, None)
            self._handled.pop(job_id, None)
            self._waiting.pop(job_id, None)

    async def _save_pass(
        self, job: JobDocument, root: Path, *, settled_only: bool, sync_step: int | None = None
    ) -> bool:
        """Save what changed; True when some file was left for later (not settled yet).
        The caller holds the job's lock."""
        now, pending = datetime.now(UTC), False
        step = sync_step if sync_step is not None else _current_step(job)
        stats = await asyncio.to_thread(lambda: list(workspace.scan(root)))
        # What this process already saw saved: a pass asks the store only about files that
        # changed since (a workspace of thousands of files costs no store reads per pass).
        handled = self._handled.setdefault(job.id, {})
        waiting = outputs.unsaved(job, stats, handled)
        self._waiting[job.id] = len(waiting)
        for stat in waiting:
            if settled_only and not outputs.settled(stat, now, self._settle):
                pending = True
                continue
            if await self._saver.save_workspace_file(job, root, stat, step):
                handled[stat.path] = stat
                self._waiting[job.id] -= 1
            else:
                pending = True
        return pending

    def _files_waiting(self) -> int:
        """Output files of the followed jobs waiting to be saved (settling or uploading), read
        when scraped; a job no longer followed counts for nothing whatever a late pass left."""
        return sum(files for job_id, files in self._waiting.items() if job_id in self._followed)

    async def _save_scripts(self, job: JobDocument, *, everything: bool, step: int) -> None:
        """The ended step's script; at the job's end, every step's that ran (one missed while
        file-sync was down included)."""
        for state in job.steps:
            if not everything and state.index != step:
                continue
            if state.status is not StepStatus.PENDING and outputs.script_text(job, state.index):
                text = outputs.script_text(job, state.index).encode()
                path = outputs.script_path(job, state.index)
                digest = hashlib.sha256(text).hexdigest()
                await self._saver.save_content(
                    job, FileKind.SCRIPT, path, BytesIO(text), len(text), digest, state.index
                )

    async def _save_log(self, job: JobDocument) -> None:
        """The job's stored output, as one text file, written through a temporary file so
        memory stays bounded whatever its length."""
        with tempfile.TemporaryFile() as spool:
            digest, after, step = hashlib.sha256(), 0, -1
            while lines := await self._worker.logs.after(job.id, after, LOG_PAGE):
                for line in lines:
                    text = f"{line.text}\n"
                    if line.step != step:
                        step = line.step
                        text = f"==> step {step + 1}: {job.step(step).title}\n{text}"
                    data = text.encode()
                    digest.update(data)
                    spool.write(data)
                after = lines[-1].seq
            size = spool.tell()  # a job that printed nothing has an empty log, still listed
            spool.seek(0)
            await self._saver.save_content(
                job, FileKind.LOG, outputs.LOG_PATH, spool, size, digest.hexdigest(), None
            )

    async def _totals(self, job_id: str) -> tuple[int, int]:
        ready = await self._files.find({"job_id": job_id, "deleted_at": None, "status": "ready"})
        return len(ready), sum(r.size for r in ready)

    def _root(self, job: JobDocument) -> Path:
        return workspaces.workspace_dir(self._settings.host_dir, self._worker.names, job)

    def _lock(self, job_id: str) -> asyncio.Lock:
        """One pass at a time per job: a sync and the follower never upload the same file."""
        lock = self._locks.get(job_id)
        if lock is None:
            lock = self._locks[job_id] = asyncio.Lock()
        return lock

    async def stop(self) -> None:
        for task in [*self._followed.values(), *self._syncing.values()]:
            task.cancel()


def _current_step(job: JobDocument) -> int | None:
    run = job.sandbox
    if run is None:
        return None
    if run.state in (SandboxState.STARTING, SandboxState.RUNNING, SandboxState.EXITED):
        return run.step_index
    return run.step_index - 1 if run.step_index > 0 else None
