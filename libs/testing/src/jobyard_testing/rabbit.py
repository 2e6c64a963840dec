"""Looking inside RabbitMQ from tests: queue depths and the history stream."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aio_pika


async def queue_depth(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def read_history(
    url: str, stream: str, job_id: str, expected: int, timeout: float = 20
) -> list[dict[str, Any]]:
    """The job's messages in the retained stream, read from its first offset."""
    connection = await aio_pika.connect(url)
    found: list[dict[str, Any]] = []
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue(stream, passive=True)
        deadline = time.monotonic() + timeout
        async with queue.iterator(arguments={"x-stream-offset": "first"}) as messages:
            while len(found) < expected and time.monotonic() < deadline:
                try:
                    message = await asyncio.wait_for(messages.__anext__(), timeout=1)
                except TimeoutError:
                    continue
                await message.ack()
                body = json.loads(message.body)
                if body.get("job_id") == job_id:
                    found.append(body)
    return found
