"""Job documents in MongoDB: guarded state changes with their events in an embedded outbox.

Why an embedded outbox: MongoDB updates one document atomically without a transaction (which
would need a replica set and is not required for correctness here). Writing the new state and
the events announcing it in the same `update_one` means a crash can never separate them; the
relay publishes the outbox afterwards and removes what the broker confirmed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_contracts import Envelope, Payload, envelope_for
from jobyard_store.documents import JobDocument
from jobyard_store.leases import claim_first, lease_free

OUTBOX_LEASE = "outbox_lease_until"
"""Kept beside the model's fields (a `change` never writes it): who sweeps the outbox now."""
ADMISSION_LEASE = "admission_lease_until"
"""Beside the model's fields too: which scheduler replica decides the job's admission now."""


@dataclass(frozen=True, slots=True)
class Change:
    """A decision of the domain: the job's new state and the events that announce it."""

    job: JobDocument
    events: Sequence[Payload] = field(default_factory=tuple)

    def then(self, decide: Decide) -> Change:
        """This change and then `decide` on its result, as one write."""
        more = decide(self.job)
        return self if more is None else Change(more.job, (*self.events, *more.events))


Decide = Callable[[JobDocument], Change | None]
"""Pure function from the current job to a change, or None when there is nothing to do."""


class JobNotFoundError(LookupError):
    pass


class ConcurrentChangeError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Applied:
    job: JobDocument
    envelopes: tuple[Envelope[Payload], ...]


class JobRepository:
    MAX_ATTEMPTS = 50

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["jobs"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("user_id", ASCENDING), ("created_at", DESCENDING)])
        await self.collection.create_index([("user_id", ASCENDING), ("status", ASCENDING)])
        await self.collection.create_index([("user_id", ASCENDING), ("chat_id", ASCENDING)])
        await self.collection.create_index([("sandbox.host", ASCENDING), ("sandbox.state", 1)])
        await self.collection.create_index([("container.host", ASCENDING), ("container.state", 1)])
        await self.collection.create_index([("outbox.added_at", ASCENDING)])
        await self.collection.create_index([("status", ASCENDING)])  # the jobs-by-status gauge

    async def create(
        self, job: JobDocument, events: Sequence[Payload], *, causation_id: UUID | None = None
    ) -> Applied:
        envelopes = self._envelopes(job, events, causation_id)
        job = job.model_copy(update={"version": 1, "sequence": len(envelopes)})
        doc = job.model_dump(mode="python", by_alias=True)
        doc["outbox"] = [_outbox_entry(e) for e in envelopes]
        await self.collection.insert_one(doc)
        return Applied(job, envelopes)

    async def get(self, job_id: str, *, user_id: str | None = None) -> JobDocument | None:
        """The job; with `user_id`, only if that user owns it and has not deleted it."""
        query: dict[str, Any] = {"_id": job_id}
        if user_id is not None:
            query |= {"user_id": user_id, "deleted_at": None}
        doc = await self.collection.find_one(query, projection={"outbox": False})
        return JobDocument.model_validate(doc) if doc else None

    async def find(
        self,
        query: dict[str, Any],
        *,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
        skip: int = 0,
    ) -> list[JobDocument]:
        cursor = self.collection.find(
            query, projection={"outbox": False}, sort=sort, limit=limit, skip=skip
        )
        return [JobDocument.model_validate(doc) async for doc in cursor]

    async def count(self, query: dict[str, Any]) -> int:
        return await self.collection.count_documents(query)

    async def change(
        self,
        job_id: str,
        decide: Decide,
        *,
        causation_id: UUID | None = None,
        current: JobDocument | None = None,
    ) -> Applied:
        """Apply `decide` to the stored job, retrying on concurrent writers (optimistic lock).
        `current`, the job as the caller just read it, saves the first read: if it is stale,
        the write finds another version (or the rule nothing to do) and the job is read again."""
        given = current is not None
        for _ in range(self.MAX_ATTEMPTS):
            if current is None:
                current = await self.get(job_id)
            if current is None:
                raise JobNotFoundError(job_id)
            decision = decide(current)
            if decision is None and given:
                current, given = None, False  # decided on the caller's copy: ask the store
                continue
            if decision is None:
                return Applied(current, ())
            envelopes = self._envelopes(current, decision.events, causation_id)
            new = decision.job.model_copy(
                update={
                    "version": current.version + 1,
                    "sequence": current.sequence + len(envelopes),
                }
            )
            update: dict[str, Any] = {"$set": changed_fields(current, new)}
            if envelopes:
                update["$push"] = {"outbox": {"$each": [_outbox_entry(e) for e in envelopes]}}
            result = await self.collection.update_one(
                {"_id": job_id, "version": current.version}, update
            )
            if result.matched_count == 1:
                return Applied(new, envelopes)
            current = None
            await asyncio.sleep(random.uniform(0.001, 0.02))
        raise ConcurrentChangeError(f"job {job_id}: too many concurrent changes")

    async def claim_stale_outbox(
        self, *, older_than: datetime, now: datetime, lease: timedelta
    ) -> tuple[str, list[dict[str, Any]]] | None:
        """One job whose outbox holds entries written before `older_than` (left by a crash),
        leased to the caller until `now + lease`: no other sweeper takes it meanwhile, and a
        sweeper that dies holding it only delays the entries by the lease."""
        doc = await claim_first(
            self.collection,
            {"outbox.added_at": {"$lt": older_than}} | lease_free(OUTBOX_LEASE, now),
            {"$set": {OUTBOX_LEASE: now + lease}},
            projection={"outbox": True},
        )
        if doc is None:
            return None
        return doc["_id"], [e["envelope"] for e in doc["outbox"]]

    async def release_outbox(self, job_id: str) -> None:
        await self.collection.update_one({"_id": job_id}, {"$set": {OUTBOX_LEASE: None}})

    async def claim_admission(
        self, job_id: str, *, now: datetime, lease: timedelta
    ) -> tuple[JobDocument, datetime] | None:
        """The job as stored now, leased to the caller until `now + lease` for deciding its
        admission (claim a slot, place it, admit it or give the slot back), if it still waits
        to be admitted and no other replica holds the lease. Deciding from a stale copy, or two
        replicas at once, could give back a slot the other had just admitted the job with."""
        until = now + lease
        until = until.replace(microsecond=until.microsecond // 1000 * 1000)  # as BSON keeps it
        doc = await self.collection.find_one_and_update(
            {
                "_id": job_id,
                "status": "pending",
                "admitted_at": None,
            }
            | lease_free(ADMISSION_LEASE, now),
            {"$set": {ADMISSION_LEASE: until}},
            projection={"outbox": False},
            return_document=ReturnDocument.AFTER,
        )
        return (JobDocument.model_validate(doc), until) if doc else None

    async def release_admission(self, job_id: str, until: datetime) -> None:
        """Give back a lease `claim_admission` answered (not one taken since it expired)."""
        await self.collection.update_one(
            {"_id": job_id, ADMISSION_LEASE: until}, {"$set": {ADMISSION_LEASE: None}}
        )

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """How many outbox entries wait to be published, over all jobs, and when the oldest was
        written (None when none waits). Reads only the entries' times, through their index."""
        cursor = self.collection.find(
            {"outbox.added_at": {"$type": "date"}}, projection={"outbox.added_at": True}
        )
        written = [entry["added_at"] async for doc in cursor for entry in doc["outbox"]]
        return len(written), min(written, default=None)

    async def purgeable(self, job_id: str) -> bool:
        return await self.collection.count_documents(_purgeable(job_id)) == 1

    async def purge(self, job_id: str) -> bool:
        """Remove a deleted job whose events have all been published; False if not yet."""
        result = await self.collection.delete_one(_purgeable(job_id))
        return result.deleted_count == 1

    async def mark_published(self, job_id: str, message_ids: Sequence[str]) -> None:
        await self.collection.update_one(
            {"_id": job_id}, {"$pull": {"outbox": {"id": {"$in": list(message_ids)}}}}
        )

    @staticmethod
    def _envelopes(
        job: JobDocument, events: Sequence[Payload], causation_id: UUID | None
    ) -> tuple[Envelope[Payload], ...]:
        return tuple(
            envelope_for(
                event,
                job_id=job.id,
                user_id=job.user_id,
                correlation_id=UUID(job.correlation_id),
                causation_id=causation_id,
                sequence=job.sequence + offset,
            )
            for offset, event in enumerate(events, start=1)
        )


def _purgeable(job_id: str) -> dict[str, Any]:
    """Deleted, every event published, and no sandbox that may still write its output."""
    return {
        "_id": job_id,
        "deleted_at": {"$ne": None},
        "outbox": {"$size": 0},
        "$and": [
            {"$or": [{"sandbox": None}, {"sandbox.state": "exited"}]},
            {"$or": [{"container": None}, {"container.cleaned": True}]},
        ],
    }


def changed_fields(before: JobDocument, after: JobDocument) -> dict[str, Any]:
    """The top-level fields a change rewrites: those that differ (the version always does).
    The rest stay as stored: the version check rules out any other writer in between, and a
    smaller update is less for the store to apply and to log."""
    old = before.model_dump(mode="python", by_alias=True, exclude={"id"})
    new = after.model_dump(mode="python", by_alias=True, exclude={"id"})
    return {name: value for name, value in new.items() if old.get(name) != value}


def _outbox_entry(envelope: Envelope[Payload]) -> dict[str, Any]:
    return {
        "id": str(envelope.id),
        "added_at": datetime.now(UTC),
        "envelope": envelope.model_dump(mode="json"),
    }
