"""Each worker keeps what its own queues dead-letter: a message that arrives in one of its
dead-letter queues is stored whole with the first error its handler raised, counted in
`jobyard_dead_letters_total` and logged as an error, then acknowledged. Operators list, requeue
or drop it with `jobyard-ops dlq`; nothing waits unseen in RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from faststream.rabbit.annotations import RabbitMessage
from pymongo.errors import PyMongoError

from jobyard_logging import get_logger
from jobyard_metrics import DEAD_LETTERS
from jobyard_store import DeadLetter, DeadLetters
from jobyard_store.dead_letters import letter_id

log = get_logger(__name__)


def dead_letter(
    queue: str, service: str, message: RabbitMessage, failures: tuple[str | None, int]
) -> DeadLetter:
    """What to keep of a message dead-lettered from `queue`."""
    body = message.body.decode(errors="replace")
    try:
        envelope: dict[str, Any] = json.loads(body)
    except ValueError:
        envelope = {}  # not even JSON: kept as it came
    raw = message.raw_message
    headers = dict(raw.headers or {})
    first_error, count = failures
    return DeadLetter(
        id=letter_id(queue, message.message_id),
        queue=queue,
        service=service,
        message_id=message.message_id,
        type=str(raw.type or envelope.get("type") or raw.routing_key or ""),
        job_id=envelope.get("job_id") if isinstance(envelope.get("job_id"), str) else None,
        body=body,
        correlation_id=message.correlation_id,
        first_error=first_error,
        failures=count,
        reason=str(headers.get("x-first-death-reason", "")),
        dead_lettered_at=datetime.now(UTC),
    )


class DeadLetterKeeper:
    def __init__(self, service: str, dead_letters: DeadLetters) -> None:
        self._service = service
        self._dead_letters = dead_letters

    def keeper_of(self, queue: str) -> Callable[[RabbitMessage], Awaitable[None]]:
        """The handler of `queue`'s dead-letter queue."""

        async def keep(message: RabbitMessage) -> None:
            if not await self._keep(queue, message):
                return  # kept already (a redelivery, or another replica)

        return keep

    async def _keep(self, queue: str, message: RabbitMessage) -> bool:
        """Store the letter, trying until the store answers: a dead-letter queue has no
        dead-letter queue of its own, so a message it gave up on would be lost."""
        delay = 0.5
        while True:
            try:
                failures = await self._dead_letters.failures_of(queue, message.message_id)
                letter = dead_letter(queue, self._service, message, failures)
                if not await self._dead_letters.keep(letter):
                    return False
                break
            except PyMongoError:
                log.warning("dead letter not stored yet; retrying", queue=queue, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        DEAD_LETTERS.labels(self._service, queue).inc()
        log.error(
            "message dead-lettered",
            queue=queue,
            message_id=letter.message_id,
            type=letter.type,
            job_id=letter.job_id,
            failures=letter.failures,
            first_error=letter.first_error,
            reason=letter.reason,
        )
        return True
