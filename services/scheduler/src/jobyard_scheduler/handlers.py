"""Where messages enter the scheduler: submissions are admitted when a slot is free; a finished
job frees its slot and admits the owner's oldest queued job."""

from __future__ import annotations

import asyncio
from typing import Any

from jobyard_contracts import TERMINAL_EVENTS, Envelope, JobSubmitted, parse_envelope
from jobyard_scheduler.adapters.slots import SlotLedger
from jobyard_scheduler.domain.admission import admit, waiting_for_slot_query
from jobyard_store import JobDocument
from jobyard_worker import Worker


def register(worker: Worker, slots: SlotLedger, requeue_interval: float) -> None:
    async def try_admit(job: JobDocument, msg: Envelope[Any] | None = None) -> None:
        if job.admitted_at is None and await slots.claim(job.user_id, job.id):
            if msg is not None:
                await worker.apply(msg, admit)
            else:
                await worker.relay.deliver(await worker.jobs.change(job.id, admit))

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

    async def admit_queued_forever() -> None:
        # Safety net for a release whose follow-up admission was lost to a crash.
        while True:
            for job in await worker.jobs.find(waiting_for_slot_query(), limit=200):
                await try_admit(job)
            await asyncio.sleep(requeue_interval)

    worker.background(admit_queued_forever)
