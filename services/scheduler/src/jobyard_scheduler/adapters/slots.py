"""Per-user concurrency slots, one small document per user.

A claim is one conditional upsert, so competing scheduler replicas can never hand out more
slots than the limit; claiming a slot the job already holds is a no-op (idempotent).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class SlotLedger:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], limit: int) -> None:
        self._slots = db["user_slots"]
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit

    async def claim(self, user_id: str, job_id: str) -> bool:
        has_room = {f"jobs.{self._limit - 1}": {"$exists": False}}
        try:
            result = await self._slots.update_one(
                {"_id": user_id, "$or": [{"jobs": job_id}, has_room]},
                {"$addToSet": {"jobs": job_id}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # the user's document exists and is full
        return result.matched_count == 1 or result.upserted_id is not None

    async def release(self, user_id: str, job_id: str) -> None:
        await self._slots.update_one({"_id": user_id}, {"$pull": {"jobs": job_id}})

    async def held(self, user_id: str) -> list[str]:
        doc = await self._slots.find_one({"_id": user_id})
        return list(doc["jobs"]) if doc else []
