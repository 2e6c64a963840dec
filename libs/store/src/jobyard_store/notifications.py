"""In-app notifications: what a user is told about their jobs and webhooks, read or not.

The notifications service writes them (one per event: the id is derived from what caused it,
so a redelivered event adds nothing); the gateway lists them and marks them read.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class NotificationKind(StrEnum):
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    JOB_STOPPED = "job.stopped"
    INPUT_REQUIRED = "job.input.required"
    SESSION_LIMIT = "job.session_limit"
    """The job used up its session's execution time and paused; resume it to go on."""
    WEBHOOK_DISABLED = "webhook.disabled"


class Notification(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")
    user_id: str
    kind: NotificationKind
    title: str
    message: str = ""
    job_id: str | None = None
    webhook_id: str | None = None
    created_at: datetime
    read_at: datetime | None = None


class NotificationView(BaseModel):
    """A notification as its owner sees it, in the API and on their live feed alike."""

    id: str
    kind: NotificationKind
    title: str
    message: str
    job_id: str | None
    webhook_id: str | None
    created_at: datetime
    read: bool
    read_at: datetime | None

    @classmethod
    def of(cls, notification: Notification) -> NotificationView:
        return cls(
            **notification.model_dump(exclude={"user_id"}),
            read=notification.read_at is not None,
        )


def notification_id(cause: str) -> str:
    """The one notification of a cause (an event id, or a webhook's disabling)."""
    return f"ntf_{hashlib.sha256(cause.encode()).hexdigest()[:24]}"


class Notifications:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["notifications"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("user_id", ASCENDING), ("read_at", ASCENDING), ("created_at", DESCENDING)]
        )

    async def add(self, notification: Notification) -> bool:
        """Store it; False when it was already there (nothing changes)."""
        try:
            await self.collection.insert_one(notification.model_dump(mode="python", by_alias=True))
        except DuplicateKeyError:
            return False
        return True

    async def of_user(self, user_id: str, *, unread: bool, limit: int) -> list[Notification]:
        query: dict[str, Any] = {"user_id": user_id}
        if unread:
            query["read_at"] = None
        cursor = self.collection.find(query, sort=[("created_at", DESCENDING)], limit=limit)
        return [Notification.model_validate(doc) async for doc in cursor]

    async def unread_count(self, user_id: str) -> int:
        return await self.collection.count_documents({"user_id": user_id, "read_at": None})

    async def mark_read(
        self, notification_id: str, user_id: str, at: datetime
    ) -> Notification | None:
        """Read now (a repeat keeps the first time); None if the user has no such one."""
        await self.collection.update_one(
            {"_id": notification_id, "user_id": user_id, "read_at": None},
            {"$set": {"read_at": at}},
        )
        doc = await self.collection.find_one({"_id": notification_id, "user_id": user_id})
        return Notification.model_validate(doc) if doc else None

    async def mark_all_read(self, user_id: str, at: datetime) -> int:
        result = await self.collection.update_many(
            {"user_id": user_id, "read_at": None}, {"$set": {"read_at": at}}
        )
        return int(result.modified_count)
