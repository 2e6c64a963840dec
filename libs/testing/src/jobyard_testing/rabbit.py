"""Looking inside RabbitMQ from tests: queue depths and the history stream."""

from __future__ import annotations

from typing import Any

import aio_pika

from jobyard_messaging.history import retained_messages


async def queue_depth(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def read_history(
    url: str, stream: str, job_id: str, expected: int, timeout: float = 20
) -> list[dict[str, Any]]:
    """The job's messages in the retained stream, read from its first offset until `expected`
    of them came (or none came for `timeout` seconds)."""

    def of_job(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in found if m.get("job_id") == job_id]

    connection = await aio_pika.connect(url)
    async with connection:
        found = await retained_messages(
            connection, stream, quiet_seconds=timeout, enough=lambda f: len(of_job(f)) >= expected
        )
    return of_job(found)


async def stream_messages(url: str, stream: str) -> list[dict[str, Any]]:
    """Everything the retained stream holds now."""
    connection = await aio_pika.connect(url)
    async with connection:
        return await retained_messages(connection, stream)
