"""Stored job output: one document per line, numbered per job, stdout and stderr interleaved."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

Stream = Literal["stdout", "stderr"]


class LogLine(BaseModel):
    seq: int
    step: int
    stream: Stream
    text: str
    at: datetime


class LogStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["log_lines"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("job_id", ASCENDING), ("seq", ASCENDING)], unique=True)
        await self.collection.create_index(
            [("job_id", ASCENDING), ("step", ASCENDING), ("stream", ASCENDING)]
        )

    async def append(self, job_id: str, lines: Sequence[LogLine]) -> None:
        """Insert in order, so a crash leaves a prefix; an already stored seq is skipped."""
        if not lines:
            return
        try:
            await self.collection.insert_many(
                [{"job_id": job_id, **line.model_dump()} for line in lines], ordered=True
            )
        except BulkWriteError as exc:
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise

    async def delete_job(self, job_id: str) -> None:
        await self.collection.delete_many({"job_id": job_id})

    async def last_seq(self, job_id: str) -> int:
        doc = await self.collection.find_one(
            {"job_id": job_id}, sort=[("seq", DESCENDING)], projection={"seq": True}
        )
        return int(doc["seq"]) if doc else 0

    async def count(self, job_id: str, step: int, stream: Stream) -> int:
        return await self.collection.count_documents(
            {"job_id": job_id, "step": step, "stream": stream}
        )

    async def tail(
        self,
        job_id: str,
        lines: int | None = None,
        *,
        step: int | None = None,
        stream: Stream | None = None,
    ) -> list[LogLine]:
        """The last `lines` lines in order (all of them when `lines` is None)."""
        query: dict[str, Any] = {"job_id": job_id}
        if step is not None:
            query["step"] = step
        if stream is not None:
            query["stream"] = stream
        if lines is None:
            cursor = self.collection.find(query, sort=[("seq", ASCENDING)])
            return [LogLine.model_validate(d) async for d in cursor]
        if lines <= 0:
            return []
        cursor = self.collection.find(query, sort=[("seq", DESCENDING)], limit=lines)
        newest_first = [LogLine.model_validate(d) async for d in cursor]
        return newest_first[::-1]

    async def after(self, job_id: str, after_seq: int, limit: int = 1000) -> list[LogLine]:
        """Lines after a sequence number: how a reconnecting live client catches up."""
        cursor = self.collection.find(
            {"job_id": job_id, "seq": {"$gt": after_seq}}, sort=[("seq", ASCENDING)], limit=limit
        )
        return [LogLine.model_validate(d) async for d in cursor]
