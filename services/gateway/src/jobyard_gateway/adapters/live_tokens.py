"""Short-lived tokens for WebSockets opened by browsers, which cannot set headers on them: a
signed-in page asks for one with its API key, then opens the socket with `?token=`. Only a
digest is stored (the token is random, so SHA-256 is enough), with its expiry."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from jobyard_gateway.adapters.users import hash_key

TOKEN_PREFIX = "jylt_"


class LiveTokens:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._tokens = db["live_tokens"]

    async def ensure_indexes(self) -> None:
        # Expired tokens are refused on read; the TTL index only tidies up (on a real MongoDB).
        await self._tokens.create_index("expires_at", expireAfterSeconds=0)

    async def issue(self, user_id: str, lifetime: timedelta) -> tuple[str, datetime]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + lifetime
        await self._tokens.insert_one(
            {"_id": hash_key(token), "user_id": user_id, "expires_at": expires_at}
        )
        return token, expires_at

    async def user_of(self, token: str) -> str | None:
        doc = await self._tokens.find_one(
            {"_id": hash_key(token), "expires_at": {"$gt": datetime.now(UTC)}}
        )
        return str(doc["user_id"]) if doc else None
