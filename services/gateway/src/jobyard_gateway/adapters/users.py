"""Users and their API keys. Keys are random 256-bit tokens, so a SHA-256 digest is enough to
store them safely (no slow hash needed for non-guessable secrets); the key itself is shown once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

KEY_PREFIX = "jy_"


class User(BaseModel):
    id: str
    name: str


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class UserStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._users = db["users"]

    async def ensure_indexes(self) -> None:
        await self._users.create_index("key_hash", unique=True)
        await self._users.create_index("name", unique=True)

    async def create(self, name: str) -> tuple[User, str]:
        """Create a user; returns it with its new API key (not stored anywhere in clear)."""
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        user = User(id=f"usr_{secrets.token_hex(8)}", name=name)
        await self._users.insert_one(
            {
                "_id": user.id,
                "name": name,
                "key_hash": hash_key(api_key),
                "created_at": datetime.now(UTC),
            }
        )
        return user, api_key

    async def get(self, user_id: str) -> User | None:
        doc = await self._users.find_one({"_id": user_id})
        return User(id=doc["_id"], name=doc["name"]) if doc else None

    async def authenticate(self, api_key: str) -> User | None:
        doc = await self._users.find_one({"key_hash": hash_key(api_key)})
        return User(id=doc["_id"], name=doc["name"]) if doc else None
