"""The file-sync process: `jobyard-file-sync` (one per sandbox host)."""

from __future__ import annotations

import asyncio

from jobyard_file_sync import handlers
from jobyard_file_sync.saver import FileSaver
from jobyard_file_sync.settings import FileSyncSettings
from jobyard_file_sync.syncer import OutputSyncer
from jobyard_objects import ObjectStore
from jobyard_store.files import FileRepository
from jobyard_worker import Worker

VERIFY_SECONDS = 0.2
PURGE_SECONDS = 5.0


def create_worker(settings: FileSyncSettings | None = None) -> Worker:
    settings = settings or FileSyncSettings()
    worker = Worker("file-sync", settings.infra)
    store = ObjectStore(settings.objects, settings.bucket)
    files = FileRepository(worker.db)
    saver = FileSaver(worker, files, store, settings.limits)
    syncer = OutputSyncer(worker, saver, files, settings)
    handlers.register(worker, syncer, files, settings.host_id)

    async def prepare() -> None:
        await asyncio.to_thread(store.ensure_bucket)

    worker.on_start(prepare)
    worker.background(syncer.reconcile_forever)
    worker.on_stop(syncer.stop)
    # Completed uploads are checked by whichever file-sync claims them first (a lease).
    worker.every(VERIFY_SECONDS, saver.verify_inputs)
    worker.every(PURGE_SECONDS, saver.purge_deleted)
    return worker


def main() -> None:
    settings = FileSyncSettings()
    create_worker(settings).run(settings.health_host, settings.health_port)
