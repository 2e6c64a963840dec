"""Sandbox images the Docker hosts offer, each with the manifest of what it contains.

Sandbox-managers register what their host has; the gateway accepts a job only for a
registered image and shows the manifests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase


class SandboxImage(BaseModel):
    name: str = Field(description="What jobs ask for, e.g. `base`.")
    reference: str = Field(description="The Docker image on the hosts.")
    hosts: list[str] = Field(default_factory=list, description="Docker hosts that have it.")
    manifest: dict[str, Any] = Field(default_factory=dict, description="What is inside.")
    registered_at: datetime


class ImageRegistry:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._images = db["images"]

    async def register(
        self, name: str, reference: str, host: str, manifest: dict[str, Any]
    ) -> None:
        await self._images.update_one(
            {"_id": name},
            {
                "$set": {
                    "reference": reference,
                    "manifest": manifest,
                    "registered_at": datetime.now(UTC),
                },
                "$addToSet": {"hosts": host},
            },
            upsert=True,
        )

    async def withdraw(self, name: str, host: str) -> None:
        await self._images.update_one({"_id": name}, {"$pull": {"hosts": host}})

    async def withdraw_host(self, host: str) -> None:
        """A host lost: none of its images is offered by it any more."""
        await self._images.update_many({"hosts": host}, {"$pull": {"hosts": host}})

    async def available(self) -> list[SandboxImage]:
        cursor = self._images.find({"hosts.0": {"$exists": True}}, sort=[("_id", 1)])
        return [SandboxImage(name=doc.pop("_id"), **doc) async for doc in cursor]

    async def get(self, name: str) -> SandboxImage | None:
        doc = await self._images.find_one({"_id": name, "hosts.0": {"$exists": True}})
        return SandboxImage(name=doc.pop("_id"), **doc) if doc else None
