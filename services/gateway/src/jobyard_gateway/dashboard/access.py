"""Who looks at the dashboard: sign-in with an API key or a one-time link (a session behind an
HttpOnly, SameSite=Strict cookie; never the key), sign-out, and the `viewer` every page needs
(no session: off to the sign-in page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_303_SEE_OTHER, HTTP_401_UNAUTHORIZED
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_gateway.adapters.users import User, UserStore
from jobyard_gateway.dashboard.sessions import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    DashboardSessions,
)

HOME = "/dashboard/jobs"


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a page, with the CSRF token its scripts send back."""

    user: User
    csrf_token: str


async def require_viewer(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Before every page: without a valid session, off to sign in (and back afterwards)."""
    adapters = request.app.state.adapters
    token = request.cookies.get(SESSION_COOKIE)
    session = await DashboardSessions(adapters.db).find(token) if token else None
    user = await adapters.users.get(session.user_id) if session else None
    if session is None or user is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/dashboard/sign-in?next={quote(here, safe='')}", status_code=303)
    request.state.viewer = Viewer(user=user, csrf_token=session.csrf_token)
    return None


def current_viewer(request: Request[Any, Any, Any]) -> Viewer:
    viewer: Viewer = request.state.viewer
    return viewer


def safe_next(target: str) -> str:
    """Where to go after signing in: a dashboard page, never another site."""
    return target if target.startswith("/dashboard/") and "//" not in target else HOME


def session_cookie(request: Request[Any, Any, Any], token: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def same_origin(request: Request[Any, Any, Any]) -> None:
    """Forms that sign in or out come from the dashboard itself (a browser names the origin)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise PermissionDeniedException("cross-site form refused")


class SignInForm(BaseModel):
    api_key: str = ""
    next: str = HOME


class SignOutForm(BaseModel):
    csrf_token: str = ""


@get("/sign-in")
async def sign_in_page(next: FromQuery[str] = HOME) -> Template:
    return Template("sign_in.html", context={"next": safe_next(next), "error": None})


@post("/sign-in", status_code=HTTP_303_SEE_OTHER)
async def sign_in(
    request: Request[Any, Any, Any],
    data: Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    users: NamedDependency[UserStore],
) -> Response[Any]:
    """Check the API key as the API does, and open a session: the key itself is not kept."""
    same_origin(request)
    user = await users.authenticate(data.api_key.strip()) if data.api_key.strip() else None
    if user is None:
        return Template(
            "sign_in.html",
            context={"next": safe_next(data.next), "error": "That API key is not valid."},
            status_code=HTTP_401_UNAUTHORIZED,
        )
    return await _signed_in(request, db, user.id, safe_next(data.next))


@get("/sign-in/link")
async def sign_in_with_link(
    request: Request[Any, Any, Any],
    token: FromQuery[str],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    next: FromQuery[str] = HOME,
) -> Response[Any]:
    """A link from `POST /v1/sign-in-links` (then the dashboard page `next`): works once, for
    a few minutes."""
    user_id = await DashboardSessions(db).redeem_link(token)
    if user_id is None:
        return Template(
            "sign_in.html",
            context={"next": HOME, "error": "This sign-in link has expired or was used already."},
            status_code=HTTP_401_UNAUTHORIZED,
        )
    return await _signed_in(request, db, user_id, safe_next(next))


async def _signed_in(
    request: Request[Any, Any, Any], db: AsyncDatabase[dict[str, Any]], user_id: str, to: str
) -> Response[Any]:
    token, _ = await DashboardSessions(db).open(user_id)
    cookie = session_cookie(request, token, int(SESSION_LIFETIME.total_seconds()))
    return Redirect(to, status_code=HTTP_303_SEE_OTHER, cookies=[cookie])


@post("/sign-out", status_code=HTTP_303_SEE_OTHER)
async def sign_out(
    request: Request[Any, Any, Any],
    data: Annotated[SignOutForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
) -> Response[Any]:
    same_origin(request)
    sessions = DashboardSessions(db)
    token = request.cookies.get(SESSION_COOKIE)
    session = await sessions.find(token) if token else None
    if token and session and session.accepts(data.csrf_token):
        await sessions.close(token)
    gone = session_cookie(request, "", 0)
    return Redirect("/dashboard/sign-in", status_code=HTTP_303_SEE_OTHER, cookies=[gone])


class SignInLink(BaseModel):
    url: str
    """Path of the dashboard that signs the browser in (prefix it with the gateway's URL)."""
    expires_at: datetime


@post("/v1/sign-in-links", status_code=HTTP_201_CREATED, include_in_schema=False)
async def create_sign_in_link(
    request: Request[User, Any, Any], db: NamedDependency[AsyncDatabase[dict[str, Any]]]
) -> SignInLink:
    """A one-time link that opens the dashboard signed in as the caller (`make demo` prints
    one): valid 10 minutes, stored as a digest, consumed by its first use."""
    token, expires_at = await DashboardSessions(db).issue_link(request.user.id)
    return SignInLink(url=f"/dashboard/sign-in/link?token={token}", expires_at=expires_at)
