"""One active job per chat, held in one small document per (user, chat).

A start claims the chat with a conditional write, so two concurrent starts in one chat can
never both win; a claim whose job has ended, was deleted or was never created (a crash between
claim and creation) is taken over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from jobyard_store import JobRepository

MAX_ATTEMPTS = 20
CREATION_GRACE = timedelta(seconds=30)
"""A claim whose job does not exist yet is a start under way for this long, then abandoned."""


class ChatBusyError(Exception):
    def __init__(self, chat_id: str, job_id: str, status: str) -> None:
        super().__init__(
            f"chat {chat_id} already has an active job, {job_id} ({status}); a chat runs one "
            "job at a time: wait for it to finish, or cancel it"
        )
        self.job_id = job_id


class ChatRegistry:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], jobs: JobRepository) -> None:
        self._chats = db["chat_jobs"]
        self._jobs = jobs

    async def claim(self, user_id: str, chat_id: str, job_id: str) -> None:
        """Make `job_id` the chat's active job, or raise `ChatBusyError` naming the one it has."""
        key = {"_id": f"{user_id}/{chat_id}"}
        for _ in range(MAX_ATTEMPTS):
            now = datetime.now(UTC)
            held = await self._chats.find_one(key)
            if held is None:
                try:
                    await self._chats.insert_one({**key, "job_id": job_id, "claimed_at": now})
                    return
                except DuplicateKeyError:
                    continue  # another start claimed it first: look again
            active = await self._jobs.get(held["job_id"])
            over = active is not None and (active.status.is_terminal or active.deleted_at)
            if active is not None and not over:
                raise ChatBusyError(chat_id, active.id, active.status)
            if active is None and now - held["claimed_at"] < CREATION_GRACE:
                raise ChatBusyError(chat_id, held["job_id"], "being started")
            taken = await self._chats.update_one(
                {**key, "job_id": held["job_id"]},
                {"$set": {"job_id": job_id, "claimed_at": now}},
            )
            if taken.modified_count == 1:
                return
        raise ChatBusyError(chat_id, "unknown", "being started")
