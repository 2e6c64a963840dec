"""HTTP/WebSocket <-> what happens to jobs, as it happens: a job's stored event log, its live
feed (events and output lines, resumable without gap or duplicate), the caller's jobs page
feed, and the short-lived tokens browsers open those sockets with. Scoped to the caller: another
user's job is a 404 (over a WebSocket, a close with code 4404)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from litestar import Request, WebSocket, get, post, websocket
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from litestar.status_codes import HTTP_201_CREATED
from pydantic import BaseModel, Field

from jobyard_gateway.adapters.feeds import ClientGoneError, JobFeed, Sender, UserFeed
from jobyard_gateway.adapters.live_tokens import LiveTokens
from jobyard_gateway.adapters.users import User
from jobyard_gateway.controllers.jobs import job_view, owned_job
from jobyard_gateway.domain import live
from jobyard_gateway.settings import LiveSettings
from jobyard_metrics import WEBSOCKET_CLIENTS
from jobyard_store import EventLog, JobRepository
from jobyard_store.files import FileRepository


class EventView(BaseModel):
    seq: int
    type: str
    kind: str = Field(description="`event`, or `command` for a request between services.")
    occurred_at: datetime
    envelope: dict[str, Any] = Field(description="The message as published (see AsyncAPI).")


class EventList(BaseModel):
    job_id: str
    events: list[EventView]
    next_after_seq: int | None = Field(
        description="Pass as `after_seq` for the next page; None when this page is the last."
    )


class LiveToken(BaseModel):
    token: str = Field(description="Open a WebSocket with `?token=` (browsers cannot set headers).")
    expires_at: datetime


@get("/v1/jobs/{job_id:str}/events")
async def list_job_events(
    request: Request[User, Any, Any],
    job_id: FromPath[str],
    jobs: NamedDependency[JobRepository],
    events: NamedDependency[EventLog],
    after_seq: Annotated[int, Parameter(ge=0, description="Only events after this one.")] = 0,
    limit: Annotated[int, Parameter(ge=1, le=1000, description="At most this many.")] = 200,
) -> EventList:
    """Every event of the job, in order of its sequence, kept for the life of the job."""
    await owned_job(jobs, job_id, request.user)
    found = await events.after(job_id, after_seq, limit + 1)
    page = found[:limit]
    return EventList(
        job_id=job_id,
        events=[
            EventView(
                seq=e.seq, type=e.type, kind=e.kind, occurred_at=e.occurred_at, envelope=e.envelope
            )
            for e in page
        ],
        next_after_seq=page[-1].seq if len(found) > limit else None,
    )


@post("/v1/live-tokens", status_code=HTTP_201_CREATED)
async def create_live_token(
    request: Request[User, Any, Any],
    live_tokens: NamedDependency[LiveTokens],
    live_settings: NamedDependency[LiveSettings],
) -> LiveToken:
    """A token to open the caller's WebSockets with `?token=`, valid for a short time."""
    lifetime = timedelta(seconds=live_settings.token_seconds)
    token, expires_at = await live_tokens.issue(request.user.id, lifetime)
    return LiveToken(token=token, expires_at=expires_at)


@websocket("/v1/jobs/{job_id:str}/live")
async def follow_job(
    socket: WebSocket[User, Any, Any],
    job_id: FromPath[str],
    job_feed: NamedDependency[JobFeed],
    jobs: NamedDependency[JobRepository],
    live_settings: NamedDependency[LiveSettings],
    after_seq: Annotated[str, Parameter(description="Last event already received.")] = "0",
    after_line: Annotated[str, Parameter(description="Last output line received.")] = "0",
) -> None:
    """Every event and output line of the job after the cursor, from the store and then live,
    until the job ends: then `{"type": "end"}` and close code 1000. Code 4408: too slow (the
    reason says where to resume); 4404: no such job; 4422: a bad cursor (the reason names it)."""
    await socket.accept()
    sender = Sender(socket, live_settings.send_timeout_seconds)
    try:
        cursor = live.cursor_from(after_seq, after_line)
    except ValueError as bad:
        await sender.close(live.BAD_REQUEST, str(bad))
        return
    if await jobs.get(job_id, user_id=socket.user.id) is None:
        await sender.close(live.NOT_FOUND, "job not found")
        return
    feed = job_feed.run(sender, job_id, socket.user.id, cursor)
    await until_client_leaves(socket, sender, feed, "job")


@websocket("/v1/live")
async def follow_my_jobs(
    socket: WebSocket[User, Any, Any],
    jobs: NamedDependency[JobRepository],
    files: NamedDependency[FileRepository],
    user_feed: NamedDependency[UserFeed],
    live_settings: NamedDependency[LiveSettings],
) -> None:
    """Status and progress changes of all the caller's jobs (`{"type": "job", "job": view}`),
    and their notifications (`{"type": "notification", ...}`), until the client leaves."""
    await socket.accept()
    user = socket.user

    async def view(job_id: str) -> dict[str, Any] | None:
        job = await jobs.get(job_id, user_id=user.id)
        return None if job is None else (await job_view(files, user, job)).model_dump(mode="json")

    sender = Sender(socket, live_settings.send_timeout_seconds)
    await until_client_leaves(socket, sender, user_feed.run(sender, user.id, view), "user")


async def until_client_leaves(
    socket: WebSocket[Any, Any, Any],
    sender: Sender,
    feed: Coroutine[Any, Any, None],
    kind: Literal["job", "user"],
) -> None:
    """Run the feed while reading what the client sends (nothing is expected): a client that
    closes or drops is noticed at once, and its feed told to stop at its next step. The client
    counts as connected to a feed of `kind` meanwhile."""
    sending = asyncio.create_task(feed)
    listening = asyncio.create_task(_gone(socket))
    try:
        with WEBSOCKET_CLIENTS.labels(feed=kind).track_inprogress():
            await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
            if listening.done():
                sender.leave()
            await asyncio.wait({sending})
    finally:
        listening.cancel()  # only a socket read: safe to cut short
        await asyncio.gather(listening, return_exceptions=True)
    error = sending.exception()
    if error is not None and not isinstance(error, ClientGoneError):
        raise error


async def _gone(socket: WebSocket[Any, Any, Any]) -> None:
    while (await socket.receive())["type"] != "websocket.disconnect":
        continue
