"""Dashboard sign-in: sessions behind an HttpOnly cookie, and one-time sign-in links.

The browser never holds the API key: signing in with it (or with a link) opens a session whose
random token is the cookie. Session tokens and link tokens are stored as SHA-256 digests (they
are random, so a slow hash adds nothing), each with its expiry; a link is consumed by the one
read that finds it, so it works once."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from jobyard_gateway.adapters.users import hash_key

SESSION_COOKIE = "jobyard_session"
SESSION_LIFETIME = timedelta(days=7)
SIGN_IN_LINK_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class Session:
    user_id: str
    csrf_token: str
    """Sent back by the dashboard's scripts as `X-CSRF-Token` on every change they ask for."""

    def accepts(self, csrf_token: str) -> bool:
        """Whether a request carries this session's CSRF token (compared in constant time)."""
        return hmac.compare_digest(csrf_token.encode(), self.csrf_token.encode())


class DashboardSessions:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._sessions = db["dashboard_sessions"]
        self._links = db["dashboard_sign_in_links"]

    async def ensure_indexes(self) -> None:
        # Expired entries are refused on read; the TTL indexes only tidy up (on a real MongoDB).
        await self._sessions.create_index("expires_at", expireAfterSeconds=0)
        await self._links.create_index("expires_at", expireAfterSeconds=0)

    async def open(self, user_id: str) -> tuple[str, Session]:
        """A new session of the user: its cookie token (shown only now) and the session."""
        token = secrets.token_urlsafe(32)
        session = Session(user_id=user_id, csrf_token=secrets.token_urlsafe(32))
        await self._sessions.insert_one(
            {
                "_id": hash_key(token),
                "user_id": user_id,
                "csrf_token": session.csrf_token,
                "expires_at": datetime.now(UTC) + SESSION_LIFETIME,
            }
        )
        return token, session

    async def find(self, token: str) -> Session | None:
        doc = await self._sessions.find_one(
            {"_id": hash_key(token), "expires_at": {"$gt": datetime.now(UTC)}}
        )
        return Session(user_id=doc["user_id"], csrf_token=doc["csrf_token"]) if doc else None

    async def close(self, token: str) -> None:
        await self._sessions.delete_one({"_id": hash_key(token)})

    async def issue_link(self, user_id: str) -> tuple[str, datetime]:
        """A one-time sign-in token for the user, valid for a few minutes."""
        token = secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + SIGN_IN_LINK_LIFETIME
        await self._links.insert_one(
            {"_id": hash_key(token), "user_id": user_id, "expires_at": expires_at}
        )
        return token, expires_at

    async def redeem_link(self, token: str) -> str | None:
        """The link's user, once: the read deletes it."""
        doc = await self._links.find_one_and_delete(
            {"_id": hash_key(token), "expires_at": {"$gt": datetime.now(UTC)}}
        )
        return str(doc["user_id"]) if doc else None
