"""A job's live feed over the gateway's WebSocket (`/v1/jobs/{id}/live`): every event and output
line, in order, once each. A dropped connection, or the server saying the client was too slow,
reconnects from the last message received, so a follower never misses or repeats anything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

import httpx
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketNetworkError,
    WebSocketSession,
    aconnect_ws,
    connect_ws,
)
from pydantic import BaseModel, Field, TypeAdapter

from jobyard.errors import AuthenticationError, JobyardError, NotFoundError, ValidationError

RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
TOO_SLOW = 4408


class LiveEvent(BaseModel):
    type: Literal["event"]
    seq: int
    event: dict[str, Any] = Field(description="The job's message as published (see AsyncAPI).")


class LiveLine(BaseModel):
    type: Literal["line"]
    seq: int
    step: int
    stream: Literal["stdout", "stderr"]
    text: str
    at: datetime


class LiveEnd(BaseModel):
    type: Literal["end"]
    status: str


LiveMessage = Annotated[LiveEvent | LiveLine | LiveEnd, Field(discriminator="type")]
_MESSAGE: TypeAdapter[LiveEvent | LiveLine | LiveEnd] = TypeAdapter(LiveMessage)

_REFUSED = {4401: AuthenticationError, 4404: NotFoundError, 4422: ValidationError}


class FeedPosition:
    """Where a follower is in a job's feed, and whether the feed is over."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.seq = self.line = 0
        self.ended = False
        self.retries = 0

    @property
    def path(self) -> str:
        return f"/v1/jobs/{self.job_id}/live?after_seq={self.seq}&after_line={self.line}"

    def take(self, raw: dict[str, Any]) -> LiveEvent | LiveLine | LiveEnd:
        message = _MESSAGE.validate_python(raw)
        if isinstance(message, LiveEvent):
            self.seq = message.seq
        elif isinstance(message, LiveLine):
            self.line = message.seq
        else:
            self.ended = True
        self.retries = 0
        return message

    def closed(self, code: int, reason: str) -> float:
        """The server closed the feed: over (1000), refused (an error), or to be resumed after
        the seconds returned (at once when it only found the client too slow)."""
        if code == 1000:
            self.ended = True
            return 0.0
        if code in _REFUSED:
            raise _REFUSED[code](reason or f"live feed refused ({code})")
        return 0.0 if code == TOO_SLOW else self.backoff()

    def backoff(self) -> float:
        """Seconds to wait before reconnecting; gives up after a run of failed attempts."""
        if self.retries >= len(RECONNECT_SECONDS):
            raise JobyardError(f"live feed of {self.job_id}: could not reconnect")
        self.retries += 1
        return RECONNECT_SECONDS[self.retries - 1]


def follow_feed(http: httpx.Client, job_id: str) -> Iterator[LiveEvent | LiveLine | LiveEnd]:
    position = FeedPosition(job_id)
    ws: WebSocketSession
    while not position.ended:
        try:
            with connect_ws(position.path, http) as ws:
                try:
                    while not position.ended:
                        yield position.take(ws.receive_json())
                except WebSocketDisconnect as closed:
                    time.sleep(position.closed(closed.code, closed.reason or ""))
        except (WebSocketNetworkError, httpx.TransportError):
            time.sleep(position.backoff())


async def afollow_feed(
    http: httpx.AsyncClient, job_id: str
) -> AsyncIterator[LiveEvent | LiveLine | LiveEnd]:
    position = FeedPosition(job_id)
    ws: AsyncWebSocketSession
    while not position.ended:
        try:
            async with aconnect_ws(position.path, http) as ws:
                try:
                    while not position.ended:
                        yield position.take(await ws.receive_json())
                except WebSocketDisconnect as closed:
                    await asyncio.sleep(position.closed(closed.code, closed.reason or ""))
        except (WebSocketNetworkError, httpx.TransportError):
            await asyncio.sleep(position.backoff())


__all__ = [
    "FeedPosition",
    "LiveEnd",
    "LiveEvent",
    "LiveLine",
    "LiveMessage",
    "afollow_feed",
    "follow_feed",
]
