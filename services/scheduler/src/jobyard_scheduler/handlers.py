"""Where messages enter the scheduler: submissions are admitted when a slot is free; a finished
job frees its slot and admits the owner's oldest queued job; stop and delete commands end jobs
and purge deleted ones."""

from __future__ import annotations

from typing import Any

from jobyard_contracts import (
    TERMINAL_EVENTS,
    DeleteJob,
    Envelope,
    JobSubmitted,
    StopJob,
    parse_envelope,
)
from jobyard_scheduler.adapters.slots import SlotLedger
from jobyard_scheduler.domain import lifecycle
from jobyard_scheduler.domain.admission import admit, waiting_for_slot_query
from jobyard_store import JobDocument
from jobyard_worker import Worker


def register(worker: Worker, slots: SlotLedger, requeue_interval: float) -> None:
    async def try_admit(job: JobDocument, msg: Envelope[Any] | None = None) -> None:
        if job.admitted_at is None and await slots.claim(job.user_id, job.id):
            await worker.relay.change(job.id, admit, causation_id=msg.id if msg else None)

    async def admit_next(user_id: str) -> None:
        queued = await worker.jobs.find(
            waiting_for_slot_query(user_id), sort=[("created_at", 1)], limit=1
        )
        for job in queued:
            await try_admit(job)

    @worker.subscriber("admit-job", JobSubmitted)
    async def on_job_submitted(msg: Envelope[JobSubmitted]) -> None:
        job = await worker.jobs.get(msg.job_id)
        if job is not None:
            await try_admit(job, msg)

    for finished in TERMINAL_EVENTS:

        @worker.subscriber(f"release-slot-on-{finished.TYPE}", finished)
        async def on_job_finished(raw: dict[str, Any]) -> None:
            msg = parse_envelope(raw)
            await slots.release(msg.user_id, msg.job_id)
            await admit_next(msg.user_id)

    @worker.subscriber("stop-job", StopJob)
    async def on_stop_job(msg: Envelope[StopJob]) -> None:
        await worker.apply(msg, lifecycle.stop)

    @worker.subscriber("delete-job", DeleteJob)
    async def on_delete_job(msg: Envelope[DeleteJob]) -> None:
        await worker.apply(msg, lifecycle.delete)
        await purge(msg.job_id)

    async def purge(job_id: str) -> None:
        # Logs first: if we die in between, the document is still there to retry from.
        if await worker.jobs.purgeable(job_id):
            await worker.logs.delete_job(job_id)
            await worker.jobs.purge(job_id)

    async def purge_deleted() -> None:
        # Deleted jobs whose purge waited for their last events to be published.
        for job in await worker.jobs.find(lifecycle.DELETED_QUERY, limit=200):
            await purge(job.id)

    async def admit_queued() -> None:
        # Safety net for a release whose follow-up admission was lost to a crash.
        for job in await worker.jobs.find(waiting_for_slot_query(), limit=200):
            await try_admit(job)

    worker.every(requeue_interval, purge_deleted)
    worker.every(requeue_interval, admit_queued)
