"""The live feeds behind the WebSockets: NATS for speed, the store for truth.

A feed subscribes first, then sends what the store holds after the client's cursor, then what
NATS brings while it follows on directly. A gap, a lost NATS connection, a client too slow for
the buffer, or silence sends it back to the store, so nothing is skipped and nothing repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from jobyard_contracts import WireNames
from jobyard_gateway.domain import live
from jobyard_gateway.domain.live import FeedCursor
from jobyard_gateway.settings import LiveSettings
from jobyard_livestream import LiveStream
from jobyard_store import EventLog, JobRepository, LogLine, LogStore, StoredEvent

Item = StoredEvent | LogLine
CLOSE_WAIT_SECONDS = 60.0
JobViewOf = Callable[[str], Awaitable[dict[str, Any] | None]]
"""The job as the API shows it to its owner (None once it is gone)."""


class ClientTooSlowError(Exception):
    pass


class ClientGoneError(Exception):
    """The client closed or dropped the connection: nothing more to do for it."""


class Inbox:
    """Live messages waiting to be sent, bounded: past the bound they are dropped and the
    feed reads the store instead (it knows, because `overflowed` is set)."""

    def __init__(self, size: int) -> None:
        self._items: deque[dict[str, Any]] = deque()
        self._size = size
        self._arrived = asyncio.Event()
        self.overflowed = False

    def wake(self) -> None:
        """End a wait now (the reader has something else to look at)."""
        self._arrived.set()

    def put(self, message: dict[str, Any]) -> None:
        if len(self._items) >= self._size:
            self._items.clear()
            self.overflowed = True
        else:
            self._items.append(message)
        self._arrived.set()

    async def take(self, timeout: float) -> list[dict[str, Any]]:
        """Everything waiting, after waiting up to `timeout` for something (may be empty)."""
        if not self._items:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        self._arrived.clear()
        taken = list(self._items)
        self._items.clear()
        return taken


class Sender:
    """Sends JSON to one client, giving up on a client that does not take a message in time."""

    def __init__(self, socket: WebSocket[Any, Any, Any], timeout: float) -> None:
        self._socket = socket
        self._timeout = timeout
        self._on_leave: list[Callable[[], None]] = []
        self.left = False

    def on_leave(self, callback: Callable[[], None]) -> None:
        self._on_leave.append(callback)

    def leave(self) -> None:
        """The client went away: the feed stops at its next step. It is not cancelled, so no
        store operation is ever cut short (a store may keep a cut-short one's locks)."""
        self.left = True
        for callback in self._on_leave:
            callback()

    async def send(self, message: dict[str, Any]) -> None:
        if self.left:
            raise ClientGoneError
        try:
            await asyncio.wait_for(self._socket.send_json(message), self._timeout)
        except TimeoutError as exc:
            raise ClientTooSlowError from exc
        except (OSError, WebSocketDisconnect) as exc:
            raise ClientGoneError from exc

    async def close(self, code: int, reason: str) -> None:
        # A slow client gets the close frame after what it has not read yet: wait for it a
        # while, rather than drop the connection and leave it with a network error.
        with contextlib.suppress(Exception):  # the client may be gone already
            await asyncio.wait_for(self._socket.close(code, reason[:120]), CLOSE_WAIT_SECONDS)


class JobFeed:
    """One job's events and output lines for one client, from its cursor to the job's end."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        events: EventLog,
        logs: LogStore,
        stream: LiveStream,
        names: WireNames,
        settings: LiveSettings,
    ) -> None:
        self._jobs = jobs
        self._events = events
        self._logs = logs
        self._stream = stream
        self._names = names
        self._settings = settings

    async def run(self, sender: Sender, job_id: str, user_id: str, cursor: FeedCursor) -> None:
        inbox = Inbox(self._settings.buffer)
        sender.on_leave(inbox.wake)
        subjects = [self._names.live_events_subject(job_id), self._names.live_logs_subject(job_id)]
        try:
            async with self._stream.listen(subjects, inbox.put) as subscribed:
                await self._follow(sender, inbox, subscribed, job_id, user_id, cursor)
        except ClientTooSlowError:
            await sender.close(live.TOO_SLOW, f"too slow; resume with {cursor.resume_hint()}")

    async def _follow(
        self,
        sender: Sender,
        inbox: Inbox,
        subscribed: bool,
        job_id: str,
        user_id: str,
        cursor: FeedCursor,
    ) -> None:
        from_store = True
        while not sender.left:
            if from_store:
                inbox.overflowed = False
                await self._catch_up(sender, job_id, cursor)
                job = await self._jobs.get(job_id, user_id=user_id)
                if job is None:
                    await sender.close(live.NOT_FOUND, "job not found (deleted)")
                    return
                if live.feed_ended(job, cursor):
                    await sender.send(live.end_message(job, cursor))
                    await sender.close(live.JOB_ENDED, f"job {job.status.value}")
                    return
            messages = await inbox.take(_pause(self._settings, self._stream, subscribed))
            from_store = not messages or inbox.overflowed
            if not from_store:
                from_store = await self._send_live(sender, messages, cursor)

    async def _send_live(
        self, sender: Sender, messages: list[dict[str, Any]], cursor: FeedCursor
    ) -> bool:
        """Send what follows on; True when the store must be read (a gap, or the job may have
        ended)."""
        gap = ended = False
        for item in _items(messages):
            # A series stops at its first gap: its cursor stays put, so nothing later follows.
            verdict = live.follows_on(cursor, item)
            gap = gap or verdict is False
            if verdict:
                await _send_item(sender, item, cursor)
                ended = ended or (isinstance(item, StoredEvent) and item.type in _ENDINGS)
        return gap or ended

    async def _catch_up(self, sender: Sender, job_id: str, cursor: FeedCursor) -> None:
        page = self._settings.page
        while True:
            events = await self._events.after(job_id, cursor.seq, page)
            lines = await self._logs.after(job_id, cursor.line, page)
            sent = 0
            for item in live.merge_pages(events, lines, page):
                if live.follows_on(cursor, item):  # past a gap, the next read finds the rest
                    await _send_item(sender, item, cursor)
                    sent += 1
            if not sent or (len(events) < page and len(lines) < page):
                return


class UserFeed:
    """Status and progress of all of one user's jobs, and their notifications, for the jobs
    page. Each job change is sent as the job's view at that moment (`view`), read from the
    store: NATS only says when to look, and with NATS down the store is looked at regularly."""

    def __init__(
        self,
        *,
        events: EventLog,
        stream: LiveStream,
        names: WireNames,
        settings: LiveSettings,
    ) -> None:
        self._events = events
        self._stream = stream
        self._names = names
        self._settings = settings

    async def run(self, sender: Sender, user_id: str, view: JobViewOf) -> None:
        inbox = Inbox(self._settings.buffer)
        sender.on_leave(inbox.wake)
        seen: deque[str] = deque(maxlen=10_000)
        since = connected = datetime.now(UTC)
        try:
            async with self._stream.listen(
                [self._names.live_user_subject(user_id)], inbox.put
            ) as subscribed:
                while not sender.left:
                    live_now = subscribed and self._stream.connected
                    messages = await inbox.take(_pause(self._settings, self._stream, subscribed))
                    for message in messages:
                        if message.get("type") == "notification":
                            await sender.send(message)
                    if not live_now or any(m.get("type") == "event" for m in messages):
                        since = await self._send_changes(
                            sender, user_id, since, connected, seen, view
                        )
        except ClientTooSlowError:
            await sender.close(live.TOO_SLOW, "too slow; list your jobs again and reconnect")

    async def _send_changes(
        self,
        sender: Sender,
        user_id: str,
        since: datetime,
        connected: datetime,
        seen: deque[str],
        view: JobViewOf,
    ) -> datetime:
        # Events can be recorded a little after they happened (an outbox swept after a crash):
        # look back a while (not before the client came), and skip what was already sent.
        start = max(since - _LOOK_BACK, connected)
        recent = await self._events.since(user_id, start, limit=self._settings.page)
        changed: dict[str, StoredEvent] = {}
        for event in recent:
            if event.entry_id in seen:
                continue
            seen.append(event.entry_id)
            if event.type in live.JOB_CHANGES:
                changed[event.job_id] = event
        for job_id, event in changed.items():
            shown = await view(job_id)
            if shown is not None:
                await sender.send({"type": "job", "event": event.type, "job": shown})
        return max((e.occurred_at for e in recent), default=since)


_LOOK_BACK = timedelta(seconds=30)
_ENDINGS = frozenset(
    {"job.completed", "job.failed", "job.stopped", "job.cancelled", "files.synced"}
)


def _pause(settings: LiveSettings, stream: LiveStream, subscribed: bool) -> float:
    """How long a feed waits for live messages before it reads the store: a while with NATS
    bringing them, briefly when it cannot."""
    live_now = subscribed and stream.connected
    return settings.idle_seconds if live_now else settings.fallback_seconds


def _items(messages: list[dict[str, Any]]) -> list[Item]:
    """NATS messages as store items: an event envelope, or a batch of stored lines."""
    items: list[Item] = []
    for message in messages:
        if "lines" in message:
            items.extend(LogLine.model_validate(line) for line in message["lines"])
        elif "sequence" in message:
            items.append(StoredEvent.of(message))
    return items


async def _send_item(sender: Sender, item: Item, cursor: FeedCursor) -> None:
    message = live.event_message(item) if isinstance(item, StoredEvent) else live.line_message(item)
    await sender.send(message)
    live.advance(cursor, item)


__all__ = ["ClientGoneError", "ClientTooSlowError", "Inbox", "JobFeed", "Sender", "UserFeed"]
