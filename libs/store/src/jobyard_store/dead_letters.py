"""Messages whose handler kept failing: each failure of a message is counted (the first error
kept), and a message that RabbitMQ dead-lettered is kept here, whole, until an operator
requeues or drops it (`jobyard-ops dlq`).

Both are keyed by queue and message id, so a failure or a dead letter seen twice (two replicas,
a redelivery) is one record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

ERROR_CHARS = 2000
"""An error is kept up to this long (its end: the exception's message follows its type)."""


FAILURES_KEPT_SECONDS = 30 * 24 * 3600


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id", description="`<queue>:<message id>`.")
    queue: str = Field(description="The queue it was dead-lettered from (and is requeued to).")
    service: str
    message_id: str
    type: str = Field(description="The message type (its routing key), e.g. `job.submitted`.")
    job_id: str | None
    body: str = Field(description="The message as it was published, byte for byte (UTF-8).")
    correlation_id: str | None = None
    first_error: str | None = Field(description="What its handler raised the first time.")
    failures: int = Field(description="Times its handler failed (as far as recorded).")
    reason: str = Field(description="RabbitMQ's reason, e.g. `delivery_limit` or `rejected`.")
    dead_lettered_at: datetime


def letter_id(queue: str, message_id: str) -> str:
    return f"{queue}:{message_id}"


class DeadLetters:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.letters = db["dead_letters"]
        self.failures = db["message_failures"]

    async def ensure_indexes(self) -> None:
        await self.letters.create_index([("queue", ASCENDING), ("dead_lettered_at", ASCENDING)])
        await self.letters.create_index([("job_id", ASCENDING)])
        # A message that failed and then went through leaves its count behind: kept a while
        # for whoever looks into it, then tidied away.
        await self.failures.create_index("last_at", expireAfterSeconds=FAILURES_KEPT_SECONDS)

    async def record_failure(self, queue: str, message_id: str, error: str, at: datetime) -> None:
        await self.failures.update_one(
            {"_id": letter_id(queue, message_id)},
            {
                "$setOnInsert": {"first_error": error[-ERROR_CHARS:], "first_at": at},
                "$set": {"last_error": error[-ERROR_CHARS:], "last_at": at},
                "$inc": {"count": 1},
            },
            upsert=True,
        )

    async def failures_of(self, queue: str, message_id: str) -> tuple[str | None, int]:
        """The first error recorded for the message, and how many failures."""
        doc = await self.failures.find_one({"_id": letter_id(queue, message_id)})
        return (doc["first_error"], int(doc["count"])) if doc else (None, 0)

    async def keep(self, letter: DeadLetter) -> bool:
        """Store a dead letter; False when it was already kept (seen twice)."""
        result = await self.letters.update_one(
            {"_id": letter.id},
            {"$setOnInsert": letter.model_dump(mode="python", by_alias=True)},
            upsert=True,
        )
        return result.upserted_id is not None

    async def find(
        self, *, queue: str | None = None, job_id: str | None = None, letter: str | None = None
    ) -> list[DeadLetter]:
        """Dead letters, oldest first, narrowed by queue, job or one letter's id."""
        query: dict[str, Any] = {}
        if queue is not None:
            query["queue"] = queue
        if job_id is not None:
            query["job_id"] = job_id
        if letter is not None:
            query["_id"] = letter
        cursor = self.letters.find(query).sort("dead_lettered_at", ASCENDING)
        return [DeadLetter.model_validate(doc) async for doc in cursor]

    async def forget(self, letter: DeadLetter) -> None:
        """Remove a dead letter and its failure count (requeued or dropped: a new episode
        starts from nothing)."""
        await self.letters.delete_one({"_id": letter.id})
        await self.failures.delete_one({"_id": letter.id})
