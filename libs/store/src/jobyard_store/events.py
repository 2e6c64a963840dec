"""Every message of a job (events and the commands in its outbox), kept for the life of the job
in order of the job's sequence: what a user lists, a live client catches up from, and a
webhook replay resends. The relay records an entry before it leaves the outbox, so nothing
published is missing here; recording twice is harmless (one document per job and sequence)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from jobyard_contracts import BY_TYPE
from jobyard_store.indexes import ensure_index


class StoredEvent(BaseModel):
    entry_id: str = Field(alias="_id")
    job_id: str
    user_id: str
    seq: int
    type: str
    kind: str
    occurred_at: datetime
    envelope: dict[str, Any]

    @classmethod
    def of(cls, envelope: dict[str, Any]) -> StoredEvent:
        """From an envelope as published (JSON-shaped)."""
        kind = BY_TYPE[envelope["type"]].KIND if envelope["type"] in BY_TYPE else "event"
        return cls.model_validate(
            {
                "_id": f"{envelope['job_id']}:{envelope['sequence']}",
                "job_id": envelope["job_id"],
                "user_id": envelope["user_id"],
                "seq": envelope["sequence"],
                "type": envelope["type"],
                "kind": kind,
                "occurred_at": datetime.fromisoformat(envelope["occurred_at"]),
                "envelope": envelope,
            }
        )


class EventLog:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["job_events"]

    async def ensure_indexes(self) -> None:
        # Unique already through `_id` (`<job>:<seq>`); a unique index would only make each
        # insert check the others (the MongoDB stand-in reads every document to do so).
        await ensure_index(self.collection, [("job_id", ASCENDING), ("seq", ASCENDING)])
        await self.collection.create_index(
            [("user_id", ASCENDING), ("occurred_at", ASCENDING), ("_id", ASCENDING)]
        )

    async def record(self, envelopes: Sequence[dict[str, Any]]) -> None:
        """Keep envelopes (as published, JSON-shaped); one already kept is skipped."""
        if not envelopes:
            return
        docs = [StoredEvent.of(e).model_dump(mode="python", by_alias=True) for e in envelopes]
        try:
            await self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise

    async def after(self, job_id: str, after_seq: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """The job's entries after a sequence number, in order."""
        cursor = self.collection.find(
            {"job_id": job_id, "seq": {"$gt": after_seq}}, sort=[("seq", ASCENDING)], limit=limit
        )
        return [StoredEvent.model_validate(doc) async for doc in cursor]

    async def envelopes(self, job_id: str, page: int = 1000) -> list[dict[str, Any]]:
        """Every kept message of the job, as published, in order."""
        envelopes: list[dict[str, Any]] = []
        last = 0
        while True:
            entries = await self.after(job_id, last, page)
            envelopes += [entry.envelope for entry in entries]
            if len(entries) < page:
                return envelopes
            last = entries[-1].seq

    async def since(
        self, user_id: str, since: datetime, *, after: StoredEvent | None = None, limit: int = 1000
    ) -> list[StoredEvent]:
        """A user's entries from a time on, oldest first; pass the last one of a page as
        `after` for the next (a webhook replay pages through them)."""
        query: dict[str, Any] = {"user_id": user_id, "occurred_at": {"$gte": since}}
        if after is not None:
            query["$or"] = [
                {"occurred_at": {"$gt": after.occurred_at}},
                {"occurred_at": after.occurred_at, "_id": {"$gt": after.entry_id}},
            ]
        cursor = self.collection.find(
            query, sort=[("occurred_at", ASCENDING), ("_id", ASCENDING)], limit=limit
        )
        return [StoredEvent.model_validate(doc) async for doc in cursor]

    async def delete_job(self, job_id: str) -> None:
        await self.collection.delete_many({"job_id": job_id})
