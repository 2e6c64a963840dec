"""Reading the `history` stream, which keeps every message published for its retention: what
operators read once a job's own log is purged, and what tests check publishing against."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aio_pika.abc import AbstractConnection

QUIET_SECONDS = 2.0
"""A stream has no end marker: reading stops after this long without a message."""


async def retained_messages(
    connection: AbstractConnection,
    stream: str,
    *,
    quiet_seconds: float = QUIET_SECONDS,
    enough: Callable[[list[dict[str, Any]]], bool] = lambda found: False,
) -> list[dict[str, Any]]:
    """Every JSON object in the stream from its first offset, in order, until none came for
    `quiet_seconds` or `enough(found)` holds; anything else in it is skipped."""
    found: list[dict[str, Any]] = []
    channel = await connection.channel()
    async with channel:
        await channel.set_qos(prefetch_count=500)
        queue = await channel.declare_queue(stream, passive=True)
        async with queue.iterator(arguments={"x-stream-offset": "first"}) as messages:
            while not enough(found):
                try:
                    message = await asyncio.wait_for(anext(messages), quiet_seconds)
                except TimeoutError:
                    break
                await message.ack()
                try:
                    body = json.loads(message.body)
                except ValueError:
                    continue
                if isinstance(body, dict):
                    found.append(body)
    return found
