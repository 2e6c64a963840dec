"""Moves outbox entries from job documents to RabbitMQ and the job's event log (and, best
effort, to NATS: the job's subject and its owner's).

Right after a write the writer delivers its own entries; a sweeper republishes any entry that a
crash left behind. Either may publish an entry twice: consumers are idempotent, and the per-job
sequence number lets them recognise what they already applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from jobyard_contracts import WireNames
from jobyard_livestream import LiveStream
from jobyard_logging import get_logger
from jobyard_messaging.publisher import EnvelopePublisher
from jobyard_metrics import OUTBOX_OLDEST_AGE, OUTBOX_PENDING
from jobyard_store import Applied, Decide, EventLog, JobDocument, JobRepository

log = get_logger(__name__)

SWEEP_LEASE = timedelta(seconds=60)
"""Long enough to publish one job's entries; a sweeper that dies holding it delays them this
long at most."""


class OutboxRelay:
    def __init__(
        self,
        publisher: EnvelopePublisher,
        jobs: JobRepository,
        events: EventLog,
        live: LiveStream | None,
        names: WireNames,
    ) -> None:
        self._publisher = publisher
        self._jobs = jobs
        self._events = events
        self._live = live
        self._names = names

    async def change(
        self,
        job_id: str,
        decide: Decide,
        *,
        causation_id: UUID | None = None,
        current: JobDocument | None = None,
    ) -> Applied:
        """Store a domain decision on the job, then publish the events it announced."""
        applied = await self._jobs.change(
            job_id, decide, causation_id=causation_id, current=current
        )
        await self.deliver(applied)
        return applied

    async def deliver(self, applied: Applied) -> None:
        """Publish what a change just wrote. A failure here is repaired by the sweeper."""
        if not applied.envelopes:
            return
        raw = [e.model_dump(mode="json") for e in applied.envelopes]
        try:
            await self._send(applied.job.id, raw)
        except Exception:
            log.warning("outbox delivery deferred", job_id=applied.job.id, exc_info=True)

    async def sweep_once(self, min_age: timedelta, limit: int = 100) -> int:
        """Republish entries older than `min_age`, one leased job at a time (so replicas sweep
        different jobs); returns how many were sent."""
        sent = 0
        before = datetime.now(UTC) - min_age
        for _ in range(limit):
            claimed = await self._jobs.claim_stale_outbox(
                older_than=before, now=datetime.now(UTC), lease=SWEEP_LEASE
            )
            if claimed is None:
                break
            job_id, envelopes = claimed
            await self._send(job_id, envelopes)
            await self._jobs.release_outbox(job_id)
            sent += len(envelopes)
        if sent:
            log.info("outbox swept", messages=sent)
        return sent

    async def measure_backlog(self) -> None:
        """Set the outbox gauges from the store: what waits to be published, over all jobs, and
        the oldest entry's age. Every replica sees the same store, so each reports the same."""
        waiting, oldest = await self._jobs.outbox_backlog()
        OUTBOX_PENDING.set(waiting)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.set(max(age, 0.0))  # a writer whose clock runs slightly ahead

    async def _send(self, job_id: str, envelopes: Sequence[dict[str, Any]]) -> None:
        ordered = sorted(envelopes, key=lambda e: e["sequence"])
        await self._publisher.publish(ordered)
        # Kept in the job's event log before leaving the outbox: a crash in between records
        # it again from the sweep, never loses it.
        await self._events.record(ordered)
        await self._jobs.mark_published(job_id, [e["id"] for e in ordered])
        if self._live is not None:
            subject = self._names.live_events_subject(job_id)
            user_subject = self._names.live_user_subject(ordered[0]["user_id"])
            for envelope in ordered:
                await self._live.publish(subject, envelope)
                await self._live.publish(user_subject, {"type": "event", "event": envelope})
