"""A job's history as operators read and replay it: from the job's event log while the job
exists, and from RabbitMQ's `history` stream (every message for its retention) once it was
purged; redelivered, whole or in part, to one named consumer's queue, with each message's own
id (consumers are idempotent: what one already applied changes nothing)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aiormq.exceptions import ChannelNotFoundEntity

from jobyard_contracts import WireNames
from jobyard_settings import InfraSettings
from jobyard_store import EventLog, connect

PAGE = 1000
STREAM_QUIET_SECONDS = 2.0
"""The history stream has no end marker: reading stops after this long without a message."""


class UnknownQueueError(Exception):
    pass


@dataclass(frozen=True)
class Span:
    """Which of a job's messages: by sequence (inclusive) and by time."""

    from_seq: int = 1
    to_seq: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def holds(self, envelope: dict[str, Any]) -> bool:
        seq = int(envelope["sequence"])
        at = datetime.fromisoformat(envelope["occurred_at"])
        return (
            seq >= self.from_seq
            and (self.to_seq is None or seq <= self.to_seq)
            and (self.since is None or at >= self.since)
            and (self.until is None or at <= self.until)
        )


def queue_name(names: WireNames, consumer: str) -> str:
    """A consumer named as `<service>.<handler>` (or its full queue name)."""
    prefix = f"{names.namespace}."
    return consumer if consumer.startswith(prefix) else prefix + consumer


class HistoryDesk:
    def __init__(
        self, events: EventLog, rabbit: AbstractRobustConnection, names: WireNames
    ) -> None:
        self._events = events
        self._rabbit = rabbit
        self._names = names

    async def history(self, job_id: str, span: Span = Span()) -> tuple[str, list[dict[str, Any]]]:
        """The job's messages in sequence order, and where they were read (`events` or
        `stream`)."""
        stored = await self._stored(job_id)
        source, envelopes = (
            ("events", stored) if stored else ("stream", await self._streamed(job_id))
        )
        return source, [e for e in envelopes if span.holds(e)]

    async def redeliver(self, job_id: str, consumer: str, span: Span) -> int:
        """Publish the job's messages in `span` to one consumer's queue; how many were sent."""
        queue = queue_name(self._names, consumer)
        channel = await self._rabbit.channel(publisher_confirms=True)
        async with channel:
            try:
                await channel.declare_queue(queue, passive=True)
            except ChannelNotFoundEntity as exc:
                raise UnknownQueueError(f"no queue {queue}") from exc
        _, envelopes = await self.history(job_id, span)
        channel = await self._rabbit.channel(publisher_confirms=True)
        async with channel:
            for envelope in envelopes:
                message = aio_pika.Message(
                    json.dumps(envelope).encode(),
                    message_id=envelope["id"],
                    correlation_id=envelope["correlation_id"],
                    type=envelope["type"],
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                )
                await channel.default_exchange.publish(message, routing_key=queue)
        return len(envelopes)

    async def _stored(self, job_id: str) -> list[dict[str, Any]]:
        envelopes: list[dict[str, Any]] = []
        last = 0
        while True:
            page = await self._events.after(job_id, last, PAGE)
            envelopes += [entry.envelope for entry in page]
            if len(page) < PAGE:
                return envelopes
            last = page[-1].seq

    async def _streamed(self, job_id: str) -> list[dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        channel = await self._rabbit.channel()
        async with channel:
            await channel.set_qos(prefetch_count=500)
            stream = await channel.declare_queue(self._names.history_stream, passive=True)
            async with stream.iterator(arguments={"x-stream-offset": "first"}) as messages:
                while True:
                    try:
                        message = await asyncio.wait_for(anext(messages), STREAM_QUIET_SECONDS)
                    except TimeoutError:
                        break
                    await message.ack()
                    try:
                        body = json.loads(message.body)
                    except ValueError:
                        continue  # not ours to read
                    if isinstance(body, dict) and body.get("job_id") == job_id:
                        found[int(body["sequence"])] = body  # a republished one counts once
        return [found[seq] for seq in sorted(found)]


@asynccontextmanager
async def history_desk(infra: InfraSettings) -> AsyncIterator[HistoryDesk]:
    mongo, db = connect(infra)
    rabbit = await aio_pika.connect_robust(infra.rabbitmq_url)
    try:
        yield HistoryDesk(EventLog(db), rabbit, infra.names)
    finally:
        await rabbit.close()
        await mongo.close()
