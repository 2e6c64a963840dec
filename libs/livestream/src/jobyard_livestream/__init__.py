"""Live, lossy fan-out over NATS core subjects.

Nothing durable depends on it: a publish that fails is dropped (and logged once), because the
stored log and the event history are the truth and clients catch up from them by sequence.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
from nats.aio.client import Client


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

    @asynccontextmanager
    async def subscribe(self, subject: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        subscription = await self._client.subscribe(subject)

        async def messages() -> AsyncIterator[dict[str, Any]]:
            async for msg in subscription.messages:
                yield json.loads(msg.data)

        try:
            yield messages()
        finally:
            await subscription.unsubscribe()

    async def close(self) -> None:
        await self._client.drain()


async def connect_live(url: str) -> LiveStream:
    # Reconnect forever: a NATS outage must not take a service down, only the live view.
    client = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=1)
    return LiveStream(client)


__all__ = ["LiveStream", "connect_live"]
