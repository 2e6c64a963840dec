"""Where messages enter the scheduler: submissions are admitted and placed when a slot and a
host are free; a job that ends or pauses frees its slot (and an ended one its sandbox) and the
owner's next waiting job goes; stop, cancel, resume and delete commands change jobs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from jobyard_contracts import (
    TERMINAL_EVENTS,
    DeleteJob,
    Envelope,
    JobPaused,
    JobSubmitted,
    ResumeJob,
    StopJob,
    parse_envelope,
)
from jobyard_scheduler.adapters.slots import SlotLedger
from jobyard_scheduler.domain import admission, lifecycle
from jobyard_store import HostRegistry, HostReport, JobDocument
from jobyard_worker import Worker

HOST_REPORT_MAX_AGE = timedelta(seconds=10)
ADMISSION_LEASE = timedelta(seconds=30)
"""Far longer than one admission takes; a replica that dies holding it delays the job so long."""


def register(worker: Worker, slots: SlotLedger, requeue_interval: float) -> None:
    hosts = HostRegistry(worker.db)

    async def try_admit(user_id: str, job_id: str, msg: Envelope[Any] | None = None) -> None:
        # The slot first (one write, and all a queued job costs while its owner is busy), then
        # the job's admission lease: one replica at a time decides from the job as stored, so
        # none gives back a slot another has just admitted the job with. What the placement
        # reads is read beside the lease.
        if not await slots.claim(user_id, job_id):
            return
        leased, placed, alive = await asyncio.gather(
            worker.jobs.claim_admission(job_id, now=datetime.now(UTC), lease=ADMISSION_LEASE),
            worker.jobs.find(admission.ACTIVE_PLACED_QUERY),
            hosts.alive(HOST_REPORT_MAX_AGE),
        )
        if leased is None:
            # Admitted meanwhile (the slot is its), or decided by the lease's holder now; a job
            # gone or ended must not keep what this claim took.
            current = await worker.jobs.get(job_id)
            if current is None or current.status.is_terminal:
                await slots.release(user_id, job_id)
            return
        job, until = leased
        try:
            await admit_on_a_host(job, placed, alive, msg)
        finally:
            await worker.jobs.release_admission(job.id, until)

    async def admit_on_a_host(
        job: JobDocument,
        placed: list[JobDocument],
        alive: list[HostReport],
        msg: Envelope[Any] | None,
    ) -> None:
        if job.stateful:  # its workspace is on the disk of the host that ran the name before
            before = await worker.jobs.find(
                admission.workspace_host_query(job), sort=[("created_at", -1)], limit=1
            )
            alive = [h for h in alive if not before or h.id == before[0].host]
        host = admission.place(job, alive, placed)
        if host is None:
            await slots.release(job.user_id, job.id)  # no host has room: wait, queued
            return
        applied = await worker.relay.change(
            job.id,
            lambda j: admission.admit(j, host),
            causation_id=msg.id if msg else None,
            current=job,  # as the admission lease just read it
        )
        if applied.job.admitted_at is None or applied.job.status.is_terminal:
            await slots.release(job.user_id, job.id)  # ended meanwhile: give the slot back

    async def try_resume(job: JobDocument, msg: Envelope[Any] | None = None) -> None:
        cause = msg.id if msg else None
        if await slots.claim(job.user_id, job.id):
            await grant(job, cause)
        else:
            limit = slots.limit
            await worker.relay.change(
                job.id, lambda j: lifecycle.queue_resume(j, limit), causation_id=cause
            )

    async def grant(job: JobDocument, cause: Any = None) -> None:
        applied = await worker.relay.change(job.id, lifecycle.grant_resume, causation_id=cause)
        ended_or_waiting = applied.job.status.is_terminal or lifecycle.holds_no_slot(applied.job)
        if not applied.envelopes and ended_or_waiting:
            await slots.release(job.user_id, job.id)  # nothing to resume (ended meanwhile)

    async def admit_next(user_id: str) -> None:
        # A queued resume goes before jobs that never started.
        for job in await worker.jobs.find(
            admission.waiting_to_resume_query(user_id), sort=[("resume_requested_at", 1)], limit=1
        ):
            if await slots.claim(job.user_id, job.id):
                await grant(job)
            return
        queued = await worker.jobs.find(
            admission.waiting_for_slot_query(user_id), sort=[("created_at", 1)], limit=1
        )
        for job in queued:
            await try_admit(job.user_id, job.id)

    @worker.subscriber("admit-job", JobSubmitted)
    async def on_job_submitted(msg: Envelope[JobSubmitted]) -> None:
        await try_admit(msg.user_id, msg.job_id, msg)

    for finished in TERMINAL_EVENTS:

        @worker.subscriber(f"release-on-{finished.TYPE}", finished)
        async def on_job_finished(raw: dict[str, Any]) -> None:
            msg = parse_envelope(raw)
            await worker.apply(msg, lifecycle.release_sandbox)
            await slots.release(msg.user_id, msg.job_id)
            await admit_next(msg.user_id)

    @worker.subscriber("release-slot-on-pause", JobPaused)
    async def on_job_paused(msg: Envelope[JobPaused]) -> None:
        # A paused job holds no slot: the owner's queued jobs may run meanwhile. A job already
        # resumed (or granted its resume) when this arrives keeps the slot it holds again.
        job = await worker.jobs.get(msg.job_id)
        if job is None or not lifecycle.holds_no_slot(job):
            return
        await slots.release(msg.user_id, msg.job_id)
        await admit_next(msg.user_id)

    @worker.subscriber("resume-job", ResumeJob)
    async def on_resume_job(msg: Envelope[ResumeJob]) -> None:
        job = await worker.jobs.get(msg.job_id)
        if job is not None:
            await try_resume(job, msg)

    @worker.subscriber("stop-job", StopJob)
    async def on_stop_job(msg: Envelope[StopJob]) -> None:
        await worker.apply(msg, lambda job: lifecycle.stop(job, msg.payload.cancel))

    @worker.subscriber("delete-job", DeleteJob)
    async def on_delete_job(msg: Envelope[DeleteJob]) -> None:
        await worker.apply(msg, lifecycle.delete)
        await purge(msg.job_id)

    async def purge(job_id: str) -> None:
        # Logs and events first: if we die in between, the document is still there to retry from.
        if await worker.jobs.purgeable(job_id):
            await worker.logs.delete_job(job_id)
            await worker.events.delete_job(job_id)
            await worker.jobs.purge(job_id)

    async def purge_deleted() -> None:
        # Deleted jobs whose purge waited for their last events to be published.
        for job in await worker.jobs.find(lifecycle.DELETED_QUERY, limit=200):
            await purge(job.id)

    async def admit_queued() -> None:
        # Safety net for a release whose follow-up admission was lost to a crash, and for jobs
        # that waited for a host with room.
        for job in await worker.jobs.find(admission.waiting_to_resume_query(), limit=200):
            if await slots.claim(job.user_id, job.id):
                await grant(job)
        for job in await worker.jobs.find(admission.waiting_for_slot_query(), limit=200):
            await try_admit(job.user_id, job.id)

    worker.every(requeue_interval, purge_deleted)
    worker.every(requeue_interval, admit_queued)
