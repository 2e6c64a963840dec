"""API key authentication: `Authorization: Bearer <key>` on every route but health, metrics,
schema and the dashboard's pages (which check their session themselves); WebSockets also take
`?token=` from `POST /v1/live-tokens`, and HTTP requests the dashboard's session cookie (with
its CSRF token on every request that changes something)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    WebSocketException,
)
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from jobyard_gateway.adapters.users import UserStore
from jobyard_gateway.dashboard.sessions import SESSION_COOKIE, DashboardSessions
from jobyard_gateway.domain.live import UNAUTHORIZED

if TYPE_CHECKING:
    from litestar.types import HTTPScope

PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/metrics$", "^/schema", "^/$", "^/dashboard"]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "x-csrf-token"


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        token = connection.query_params.get("token")
        if connection.scope["type"] == ScopeType.WEBSOCKET and token:
            return await _by_live_token(connection, token)
        header = connection.headers.get("authorization", "")
        session_token = connection.cookies.get(SESSION_COOKIE)
        if connection.scope["type"] == ScopeType.HTTP and not header and session_token:
            return await _by_session(connection, session_token)
        scheme, _, api_key = header.partition(" ")
        if scheme.lower() != "bearer" or not api_key.strip():
            raise NotAuthorizedException("missing API key: send 'Authorization: Bearer <key>'")
        users: UserStore = connection.app.state.adapters.users
        user = await users.authenticate(api_key.strip())
        if user is None:
            raise NotAuthorizedException("invalid API key")
        return AuthenticationResult(user=user, auth=None)


async def _by_live_token(connection: ASGIConnection, token: str) -> AuthenticationResult:  # type: ignore[type-arg]
    """Browsers open WebSockets with a token from `POST /v1/live-tokens` (no headers there)."""
    adapters = connection.app.state.adapters
    user_id = await adapters.live_tokens.user_of(token)
    user = await adapters.users.get(user_id) if user_id else None
    if user is None:
        raise WebSocketException(detail="invalid or expired live token", code=UNAUTHORIZED)
    return AuthenticationResult(user=user, auth=None)


async def _by_session(connection: ASGIConnection, token: str) -> AuthenticationResult:  # type: ignore[type-arg]
    """The dashboard's scripts call the API with the session cookie (SameSite=Strict); what
    changes something must also carry the session's CSRF token."""
    adapters = connection.app.state.adapters
    session = await DashboardSessions(adapters.db).find(token)
    user = await adapters.users.get(session.user_id) if session else None
    if session is None or user is None:
        raise NotAuthorizedException("session expired: sign in again")
    method = cast("HTTPScope", connection.scope)["method"]
    sent = connection.headers.get(CSRF_HEADER, "")
    if method not in SAFE_METHODS and not session.accepts(sent):
        raise PermissionDeniedException("missing or wrong X-CSRF-Token for this session")
    return AuthenticationResult(user=user, auth=None)


authentication = DefineMiddleware(ApiKeyAuthentication, exclude=PUBLIC_PATHS)
