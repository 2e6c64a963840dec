"""API key authentication: `Authorization: Bearer <key>` on every route but health and schema."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from jobyard_gateway.adapters.users import UserStore

PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/schema"]


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        header = connection.headers.get("authorization", "")
        scheme, _, api_key = header.partition(" ")
        if scheme.lower() != "bearer" or not api_key.strip():
            raise NotAuthorizedException("missing API key: send 'Authorization: Bearer <key>'")
        users: UserStore = connection.app.state.adapters.users
        user = await users.authenticate(api_key.strip())
        if user is None:
            raise NotAuthorizedException("invalid API key")
        return AuthenticationResult(user=user, auth=None)


authentication = DefineMiddleware(ApiKeyAuthentication, exclude=PUBLIC_PATHS)
