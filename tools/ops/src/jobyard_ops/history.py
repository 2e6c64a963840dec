"""A job's history as operators read and replay it: from the job's event log while the job
exists, and from RabbitMQ's `history` stream (every message for its retention) once it was
purged; redelivered, whole or in part, to one named consumer's queue, with each message's own
id (consumers are idempotent: what one already applied changes nothing)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aiormq.exceptions import ChannelNotFoundEntity

from jobyard_agent.settings import PlannerSettings
from jobyard_contracts import WireNames
from jobyard_messaging.history import retained_messages
from jobyard_ops.replayer import replay, replay_inputs
from jobyard_settings import InfraSettings
from jobyard_store import EventLog, JobDocument, JobRepository, LogStore, connect
from jobyard_store.files import FileRepository
from jobyard_store.forks import fork_job, restored_files
from jobyard_store.replay import JobFacts, fold


class UnknownQueueError(Exception):
    pass


class UnknownJobError(Exception):
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


@dataclass(frozen=True)
class Replayed:
    """A job's history replayed through the services' rules (up to a sequence), and where the
    rules disagree with what was stored. A purged job has no document to start from: its
    history is only folded into its facts (`jobyard_store.replay.fold`), with nothing to
    compare."""

    source: str
    messages: int
    facts: JobFacts
    differences: list[str] | None


class HistoryDesk:
    def __init__(
        self,
        jobs: JobRepository,
        events: EventLog,
        logs: LogStore,
        files: FileRepository,
        rabbit: AbstractRobustConnection,
        names: WireNames,
    ) -> None:
        self._jobs = jobs
        self._events = events
        self._logs = logs
        self._files = files
        self._rabbit = rabbit
        self._names = names

    async def history(self, job_id: str, span: Span = Span()) -> tuple[str, list[dict[str, Any]]]:
        """The job's messages in sequence order, and where they were read (`events` or
        `stream`)."""
        stored = await self._events.envelopes(job_id)
        source, envelopes = (
            ("events", stored) if stored else ("stream", await self._streamed(job_id))
        )
        return source, [e for e in envelopes if span.holds(e)]

    async def replay(self, job_id: str, up_to: int | None = None) -> Replayed:
        """Replay with the budgets the agent runs with (`JOBYARD_LLM_*`, as the agent reads
        them): a budget decides when an LLM planner's job ends."""
        source, envelopes = await self.history(job_id)
        job = await self._jobs.get(job_id)
        if job is None:
            return Replayed(source, len(envelopes), fold(envelopes, up_to), None)
        budgets = PlannerSettings().budgets
        inputs = await replay_inputs(self._logs, job, envelopes, budgets)
        replayed = replay(job, envelopes, inputs, up_to)
        return Replayed(source, len(envelopes), replayed.facts, replayed.differences)

    async def fork(self, job_id: str, from_seq: int | None) -> JobDocument:
        """Fork any user's job, with the rules users' forks follow (`jobyard_store.forks`); the
        new job is stored with its announcement, which the next outbox sweep publishes."""
        original = await self._jobs.get(job_id)
        if original is None:
            raise UnknownJobError(f"no job {job_id} (a purged job has no files to restore)")
        history = await self._events.envelopes(job_id)
        at = from_seq if from_seq is not None else (history[-1]["sequence"] if history else 0)
        restored = await restored_files(self._files, original.user_id, history, at)
        job, submitted = fork_job(original, history, at, restored)
        return (await self._jobs.create(job, [submitted])).job

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

    async def _streamed(self, job_id: str) -> list[dict[str, Any]]:
        found = {  # a message published twice counts once
            int(m["sequence"]): m
            for m in await retained_messages(self._rabbit, self._names.history_stream)
            if m.get("job_id") == job_id
        }
        return [found[seq] for seq in sorted(found)]


@asynccontextmanager
async def history_desk(infra: InfraSettings) -> AsyncIterator[HistoryDesk]:
    mongo, db = connect(infra)
    rabbit = await aio_pika.connect_robust(infra.rabbitmq_url)
    try:
        yield HistoryDesk(
            JobRepository(db), EventLog(db), LogStore(db), FileRepository(db), rabbit, infra.names
        )
    finally:
        await rabbit.close()
        await mongo.close()
