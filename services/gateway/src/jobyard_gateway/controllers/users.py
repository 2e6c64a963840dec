"""`POST /v1/users`: operators create users; the new API key is in the answer, once."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import JSONBody
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pymongo.errors import DuplicateKeyError

from jobyard_gateway.adapters.users import UserStore
from jobyard_gateway.errors import ConflictException


class CreateUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


class CreatedUser(BaseModel):
    id: str
    name: str
    api_key: str = Field(description="Shown once; only its SHA-256 is stored.")


def require_admin(request: Request[Any, Any, Any], admin_token: SecretStr | None) -> None:
    if admin_token is None:
        raise PermissionDeniedException("creating users is disabled: no admin token configured")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = admin_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise NotAuthorizedException("creating users needs the admin token")


@post("/v1/users", tags=["users"], exclude_from_auth=True)
async def create_user(
    request: Request[Any, Any, Any],
    data: JSONBody[CreateUser],
    users: NamedDependency[UserStore],
    admin_token: NamedDependency[SecretStr | None],
) -> CreatedUser:
    require_admin(request, admin_token)
    try:
        user, api_key = await users.create(data.name)
    except DuplicateKeyError:
        raise ConflictException(f"a user named {data.name!r} already exists") from None
    return CreatedUser(id=user.id, name=user.name, api_key=api_key)
