"""Dead letters as operators act on them: listed from the store (where each worker keeps what
its dead-letter queues receive), requeued to the queue they came from, or dropped.

A requeue publishes the message as it was (same body and message id) straight to its queue,
then forgets the letter: if the publish fails nothing is forgotten, and a requeue repeated after
a crash in between only delivers the message twice, which consumers tolerate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.rabbit import RabbitBroker

from jobyard_settings import InfraSettings
from jobyard_store import DeadLetter, DeadLetters, connect


class DeadLetterDesk:
    def __init__(self, letters: DeadLetters, broker: RabbitBroker) -> None:
        self._letters = letters
        self._broker = broker

    async def find(
        self, *, letter: str | None, queue: str | None, job_id: str | None
    ) -> list[DeadLetter]:
        return await self._letters.find(letter=letter, queue=queue, job_id=job_id)

    async def requeue(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            await self._broker.publish(
                letter.body.encode(),
                queue=letter.queue,
                persist=True,
                message_id=letter.message_id,
                correlation_id=letter.correlation_id,
                message_type=letter.type,
                content_type="application/json",
            )
            await self._letters.forget(letter)

    async def drop(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            await self._letters.forget(letter)


@asynccontextmanager
async def dead_letter_desk(infra: InfraSettings) -> AsyncIterator[DeadLetterDesk]:
    mongo, db = connect(infra)
    broker = RabbitBroker(infra.rabbitmq_url, log_level=30)
    try:
        await broker.connect()
        yield DeadLetterDesk(DeadLetters(db), broker)
    finally:
        await broker.stop()
        await mongo.close()
