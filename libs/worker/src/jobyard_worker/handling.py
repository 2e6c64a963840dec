"""Every message a worker's handlers take is observed on its way through: counted by outcome,
timed, and, when its handler raises, its error recorded against the message (the first error
is what an operator sees beside a dead letter)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from faststream import BaseMiddleware
from faststream._internal.context.repository import ContextRepo
from faststream.message import StreamMessage

from jobyard_logging import get_logger
from jobyard_metrics import MESSAGE_SECONDS, MESSAGES_HANDLED
from jobyard_store import DeadLetters

log = get_logger(__name__)


class HandlingObserver:
    def __init__(self, service: str, dead_letters: DeadLetters) -> None:
        self._service = service
        self._dead_letters = dead_letters
        self._handlers: dict[str, str] = {}

    def name(self, queue: str, handler: str) -> None:
        """Label the messages of `queue` with `handler` (a queue name carries the namespace)."""
        self._handlers[queue] = handler

    async def observe[T](self, queue: str, message_id: str, handling: Awaitable[T]) -> T:
        handler = self._handlers.get(queue, queue)
        started = time.perf_counter()
        try:
            result = await handling
        except Exception as exc:
            MESSAGES_HANDLED.labels(self._service, handler, "failed").inc()
            await self._record_failure(queue, message_id, exc)
            raise
        finally:
            MESSAGE_SECONDS.labels(self._service, handler).observe(time.perf_counter() - started)
        MESSAGES_HANDLED.labels(self._service, handler, "ok").inc()
        return result

    async def _record_failure(self, queue: str, message_id: str, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        try:
            await self._dead_letters.record_failure(queue, message_id, error, datetime.now(UTC))
        except Exception:  # the store may be what failed: the message is requeued regardless
            log.warning("handler failure not recorded", queue=queue, message_id=message_id)

    def middleware(self) -> Callable[..., BaseMiddleware]:
        """A FastStream broker middleware that puts every handled message through `observe`."""
        return partial(_Observed, observer=self)


class _Observed(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, observer: HandlingObserver) -> None:
        super().__init__(msg, context=context)
        self._observer = observer

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        queue = self.context.get_local("handler_").queue.name
        return await self._observer.observe(queue, msg.message_id, call_next(msg))
