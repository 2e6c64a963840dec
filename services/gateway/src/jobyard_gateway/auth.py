"""API key authentication: `Authorization: Bearer <key>` on every route but health, metrics and
schema;
WebSockets also take `?token=` from `POST /v1/live-tokens`."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, WebSocketException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from jobyard_gateway.adapters.users import UserStore
from jobyard_gateway.domain.live import UNAUTHORIZED

PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/metrics$", "^/schema"]


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        token = connection.query_params.get("token")
        if connection.scope["type"] == ScopeType.WEBSOCKET and token:
            return await _by_live_token(connection, token)
        header = connection.headers.get("authorization", "")
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


authentication = DefineMiddleware(ApiKeyAuthentication, exclude=PUBLIC_PATHS)
