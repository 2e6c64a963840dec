"""Saving one file of a job to object storage, and the store's other chores: checking uploaded
inputs and removing what was deleted.

A version's object is written completely (a multipart upload is invisible until completed)
before its record points at it, so a file-sync killed mid-upload leaves nothing listed; after
a restart the file looks unsaved (its record's source differs) and is uploaded again under the
same version number, once the parts the killed upload left are aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from jobyard_contracts import FileKind, FileStatus
from jobyard_file_sync.adapters import workspace
from jobyard_file_sync.domain import outputs
from jobyard_file_sync.domain.outputs import FileStat
from jobyard_logging import get_logger
from jobyard_metrics import FILE_SYNC_UPLOADED_BYTES
from jobyard_objects import FileLimits, ObjectStore
from jobyard_store import JobDocument, JobNotFoundError
from jobyard_store.files import (
    MAX_VERSIONS,
    FileRecord,
    FileRepository,
    FileVersion,
    output_file_id,
)
from jobyard_worker import Worker

VERIFY_LEASE = timedelta(minutes=10)
log = get_logger("file-sync")


class FileSaver:
    """Callers save one job's files one at a time (the syncer holds the job's lock)."""

    def __init__(
        self, worker: Worker, files: FileRepository, store: ObjectStore, limits: FileLimits
    ) -> None:
        self._worker = worker
        self._files = files
        self._store = store
        self._limits = limits

    async def save_workspace_file(
        self, job: JobDocument, root: Path, stat: FileStat, step: int | None
    ) -> bool:
        """Save one output if it changed since its last version; True when it was handled
        (stored, rejected or unchanged), False when it vanished meanwhile."""
        record = await self._files.get(output_file_id(job.id, FileKind.OUTPUT, stat.path))
        if not outputs.needs_saving(record, stat):
            return True
        record = record or outputs.new_record(job, FileKind.OUTPUT, stat.path, datetime.now(UTC))
        if not await self._within_limits(job, record, stat):
            return True
        try:
            source, opened = await asyncio.to_thread(workspace.open_file, root, stat.path)
        except OSError:
            return False  # gone, or no longer a regular file: the next scan decides
        with source:
            return await self._store_version(job, record, source, opened, step)

    async def save_content(
        self,
        job: JobDocument,
        kind: FileKind,
        path: str,
        content: BinaryIO,
        size: int,
        sha256: str,
        step: int | None,
    ) -> None:
        """A script or the log of the job: saved again only when its content differs."""
        record = await self._files.get(output_file_id(job.id, kind, path))
        if record is not None and record.sha256 == sha256:
            return
        record = record or outputs.new_record(job, kind, path, datetime.now(UTC))
        stat = FileStat(path=path, size=size, mtime_ns=0)
        if await self._within_limits(job, record, stat):
            await self._store_version(job, record, content, stat, step, keep_source=False)

    async def _within_limits(self, job: JobDocument, record: FileRecord, stat: FileStat) -> bool:
        """Over the size limit or the owner's quota: recorded as rejected (the job goes on)."""
        reason = ""
        if stat.size > self._limits.max_file_bytes:
            reason = outputs.too_big_reason(stat.size, self._limits.max_file_bytes)
        else:
            used = await self._files.used_bytes(job.user_id)
            if used + stat.size > self._limits.quota_bytes:
                reason = outputs.over_quota_reason(used, stat.size, self._limits.quota_bytes)
        if not reason:
            return True
        refused = outputs.rejected(record, stat, reason, datetime.now(UTC))
        await self._files.save(refused)
        await self._announce(job, [outputs.rejected_event(refused, stat)])
        log.info("output rejected", job_id=job.id, path=stat.path, reason=reason)
        return False

    async def _store_version(
        self,
        job: JobDocument,
        record: FileRecord,
        source: BinaryIO,
        stat: FileStat,
        step: int | None,
        *,
        keep_source: bool = True,
    ) -> bool:
        number = (record.version.number if record.version else 0) + 1
        key = record.object_key(number)
        started = time.monotonic()
        # A file-sync killed mid-upload left this very key's parts behind: it is re-sent under
        # the same version number (this host alone saves the job's files, one at a time).
        if aborted := await asyncio.to_thread(self._store.abort_unfinished, key, stat.size):
            log.info("unfinished upload aborted", job_id=job.id, path=record.path, uploads=aborted)
        stored = await asyncio.to_thread(
            self._store.upload_stream, key, source, stat.size, record.content_type
        )
        FILE_SYNC_UPLOADED_BYTES.labels(kind=record.kind.value).inc(stored.size)
        log.info(
            "file stored",
            job_id=job.id,
            path=record.path,
            version=number,
            bytes=stored.size,
            seconds=round(time.monotonic() - started, 3),
        )
        now = datetime.now(UTC)
        version = FileVersion(
            number=number,
            object_key=key,
            size=stored.size,
            sha256=stored.sha256,
            step_index=step,
            created_at=now,
        )
        saved, dropped = outputs.with_version(
            record, version, stat.source if keep_source else None, MAX_VERSIONS
        )
        current = await self._files.get(record.id)
        owner = await self._worker.jobs.get(job.id)
        deleted = current is not None and current.deleted_at is not None
        if deleted or owner is None or owner.deleted_at is not None:
            await asyncio.to_thread(self._store.remove, [key])  # the file or job went meanwhile
            return True
        await self._files.save(saved)
        await asyncio.to_thread(self._store.remove, dropped)
        await self._announce(job, [outputs.ready_event(saved)])
        return True

    async def _announce(self, job: JobDocument, events: list[outputs.FileEvent]) -> None:
        with contextlib.suppress(JobNotFoundError):  # deleted and purged meanwhile
            await self._worker.relay.change(job.id, lambda j: outputs.announce(j, events))

    # Inputs and deletions.

    async def verify_inputs(self) -> None:
        """Check every completed upload: the stored bytes must have the declared size and
        SHA-256, else it is rejected and its object removed."""
        while (record := await self._files.claim(FileStatus.VERIFYING, VERIFY_LEASE)) is not None:
            key = record.object_key(1)
            stored = await asyncio.to_thread(self._store.digest, key)
            now = datetime.now(UTC)
            if stored is None or stored.size != record.size or stored.sha256 != record.sha256:
                reason = (
                    "nothing was uploaded"
                    if stored is None
                    else f"the uploaded bytes do not match the declared size and SHA-256 "
                    f"(got {stored.size} bytes, sha256 {stored.sha256})"
                )
                await asyncio.to_thread(self._store.remove, [key])
                await self._files.set_status(
                    record.id, FileStatus.VERIFYING, status=FileStatus.REJECTED, reason=reason
                )
                continue
            version = FileVersion(
                number=1, object_key=key, size=stored.size, sha256=stored.sha256, created_at=now
            )
            await self._files.set_status(
                record.id,
                FileStatus.VERIFYING,
                status=FileStatus.READY,
                versions=[version.model_dump()],
                upload=None,
                lease_until=None,
            )

    async def purge_deleted(self) -> None:
        """Objects of deleted records (every version, and an upload left unfinished), then
        the records themselves."""
        for record in await self._files.deleted():
            keys = [v.object_key for v in record.versions]
            upload = record.upload
            if upload is not None:
                keys.append(record.object_key(1))
                if upload.multipart_id:
                    await asyncio.to_thread(
                        self._store.abort_multipart, record.object_key(1), upload.multipart_id
                    )
            await asyncio.to_thread(self._store.remove, keys)
            await self._files.purge(record.id)
