"""What each Docker host reports about itself, for placement: capacity, use, images, runtime.

Every sandbox-manager reports every few seconds; the scheduler places jobs only on hosts whose
report is fresh.
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


class HostRegistry:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._hosts = db["hosts"]

    async def report(self, report: HostReport) -> None:
        doc = report.model_dump(by_alias=True)
        await self._hosts.replace_one({"_id": report.id}, doc, upsert=True)

    async def alive(self, max_age: timedelta) -> list[HostReport]:
        since = datetime.now(UTC) - max_age
        cursor = self._hosts.find({"reported_at": {"$gte": since}}, sort=[("_id", 1)])
        return [HostReport.model_validate(doc) async for doc in cursor]

    async def withdraw(self, host: str) -> None:
        """A host shutting down cleanly takes no more jobs."""
        await self._hosts.delete_one({"_id": host})
