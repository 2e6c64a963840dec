"""Stored job output: lines numbered per job, stdout and stderr interleaved, kept in chunks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from jobyard_store.indexes import ensure_index

Stream = Literal["stdout", "stderr"]


class LogLine(BaseModel):
    seq: int
    step: int
    stream: Stream
    text: str
    at: datetime


class LogStore:
    """Lines are kept in chunks, one document per batch the writer stores (up to a few hundred
    lines): a long job's output is thousands of documents, not millions, and each read of a
    page or a tail touches a handful. Chunks of one job never overlap: a chunk starts right
    after the last stored line."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["log_chunks"]

    async def ensure_indexes(self) -> None:
        # Unique already through `_id` (`<job>:<first>`), as for the event log.
        await ensure_index(self.collection, [("job_id", ASCENDING), ("first", ASCENDING)])
        await self.collection.create_index([("job_id", ASCENDING), ("last", ASCENDING)])

    async def append(self, job_id: str, lines: Sequence[LogLine]) -> None:
        """Store lines in order, as one chunk. The writer passes only lines after those stored
        (`last_seq`); the same chunk written twice is stored once."""
        fresh = list(lines)
        if not fresh:
            return
        try:
            await self.collection.insert_one(
                {
                    "_id": f"{job_id}:{fresh[0].seq:012d}",
                    "job_id": job_id,
                    "first": fresh[0].seq,
                    "last": fresh[-1].seq,
                    "lines": [line.model_dump() for line in fresh],
                }
            )
        except DuplicateKeyError:
            return  # the same write, replayed

    async def delete_job(self, job_id: str) -> None:
        await self.collection.delete_many({"job_id": job_id})

    async def last_seq(self, job_id: str) -> int:
        doc = await self.collection.find_one(
            {"job_id": job_id}, sort=[("last", DESCENDING)], projection={"last": True}
        )
        return int(doc["last"]) if doc else 0

    async def tail(
        self,
        job_id: str,
        lines: int | None = None,
        *,
        step: int | None = None,
        stream: Stream | None = None,
    ) -> list[LogLine]:
        """The last `lines` lines in order (all of them when `lines` is None)."""
        if lines is not None and lines <= 0:
            return []
        newest_first: list[LogLine] = []
        cursor = self.collection.find({"job_id": job_id}, sort=[("first", DESCENDING)])
        try:
            async for chunk in cursor:
                newest_first += [
                    line
                    for line in map(LogLine.model_validate, reversed(chunk["lines"]))
                    if (step is None or line.step == step)
                    and (stream is None or line.stream == stream)
                ]
                if lines is not None and len(newest_first) >= lines:
                    break
        finally:
            await cursor.close()  # left early: an open cursor holds the server's resources
        return newest_first[:lines][::-1]

    async def after(self, job_id: str, after_seq: int, limit: int = 1000) -> list[LogLine]:
        """Lines after a sequence number: how a reconnecting live client catches up."""
        found: list[LogLine] = []
        cursor = self.collection.find(
            {"job_id": job_id, "last": {"$gt": after_seq}}, sort=[("first", ASCENDING)]
        )
        try:
            async for chunk in cursor:
                found += [
                    LogLine.model_validate(raw) for raw in chunk["lines"] if raw["seq"] > after_seq
                ]
                if len(found) >= limit:
                    break
        finally:
            await cursor.close()
        return found[:limit]
