"""Where messages enter file-sync: syncs asked for by this host's sandbox-manager, and the
deletion of jobs (their files go with them)."""

from __future__ import annotations

from jobyard_contracts import Envelope, JobDeleted, SyncOutputs
from jobyard_file_sync.syncer import OutputSyncer
from jobyard_store.files import FileRepository
from jobyard_worker import Worker


def register(worker: Worker, syncer: OutputSyncer, files: FileRepository, host: str) -> None:
    @worker.host_subscriber("sync", SyncOutputs, host)
    async def on_sync(msg: Envelope[SyncOutputs]) -> None:
        syncer.request_sync(msg.job_id)  # the job document says what to sync

    @worker.subscriber("delete-files-of-deleted-job", JobDeleted)
    async def on_job_deleted(msg: Envelope[JobDeleted]) -> None:
        await files.mark_deleted({"job_id": msg.job_id})
