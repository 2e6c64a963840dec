"""Live, lossy fan-out over NATS core subjects.

Nothing durable depends on it: a publish that fails is dropped (and logged once), because the
stored log and the event history are the truth and clients catch up from them by sequence.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg


class LiveStream:
    def __init__(self, client: Client) -> None:
        self._client = client

    async def publish(self, subject: str, message: dict[str, Any]) -> None:
        if not self._client.is_connected:
            return
        try:
            await self._client.publish(subject, json.dumps(message, default=str).encode())
        except Exception:
            return

    @property
    def connected(self) -> bool:
        return self._client.is_connected

    @asynccontextmanager
    async def listen(
        self, subjects: Sequence[str], handle: Callable[[dict[str, Any]], None]
    ) -> AsyncIterator[bool]:
        """Call `handle` with every message of `subjects` while inside; yields whether every
        subscription was made. Nothing arrives while NATS is down (subscriptions come back with
        the connection), and none is made if it never was up: callers then read the store."""
        async with AsyncExitStack() as stack:
            subscribed = True
            for subject in subjects:

                async def deliver(msg: Msg) -> None:
                    handle(json.loads(msg.data))

                try:
                    subscription = await self._client.subscribe(subject, cb=deliver)
                except Exception:
                    subscribed = False
                    continue
                stack.push_async_callback(_unsubscribe, subscription)
            yield subscribed

    async def close(self) -> None:
        if self._client.is_connected:
            await self._client.drain()
        else:
            await self._client.close()


async def _unsubscribe(subscription: Any) -> None:
    try:
        await subscription.unsubscribe()
    except Exception:
        return  # the connection is gone, and the subscription with it


def live_in_background(url: str) -> tuple[LiveStream, asyncio.Task[None]]:
    """A stream usable at once, connecting (and reconnecting) forever in the background: a NATS
    outage, even at start, takes down only the live view, never the service."""
    client = Client()
    task = asyncio.create_task(
        client.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=1)
    )
    return LiveStream(client), task


__all__ = ["LiveStream", "live_in_background"]
