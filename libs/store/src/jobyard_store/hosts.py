"""What each Docker host reports about itself, for placement: capacity, use, images, runtime.

Every sandbox-manager reports every few seconds; the scheduler places jobs only on hosts whose
report is fresh, and ends the jobs of a host silent for longer than its grace. A host stopping
cleanly keeps its last report, marked withdrawn: it takes no new job, and its silence counts
from then (a restart within the grace loses nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase


class HostReport(BaseModel):
    id: str = Field(alias="_id")
    cpus: int
    memory_mb: int
    max_sandboxes: int
    sandboxes: int = Field(description="Sandboxes it drives now.")
    images: list[str]
    runtime: str
    reported_at: datetime
    withdrawn: bool = False


class HostRegistry:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._hosts = db["hosts"]

    async def report(self, report: HostReport) -> None:
        doc = report.model_dump(by_alias=True)
        await self._hosts.replace_one({"_id": report.id}, doc, upsert=True)

    async def alive(self, max_age: timedelta) -> list[HostReport]:
        since = datetime.now(UTC) - max_age
        query = {"reported_at": {"$gte": since}, "withdrawn": {"$ne": True}}
        cursor = self._hosts.find(query, sort=[("_id", 1)])
        return [HostReport.model_validate(doc) async for doc in cursor]

    async def last_seen(self) -> dict[str, datetime]:
        """When each host known reported last, withdrawn or not."""
        cursor = self._hosts.find({}, projection={"reported_at": 1})
        return {doc["_id"]: doc["reported_at"] async for doc in cursor}

    async def withdraw(self, host: str) -> None:
        """A host shutting down cleanly takes no more jobs."""
        await self._hosts.update_one({"_id": host}, {"$set": {"withdrawn": True}})
