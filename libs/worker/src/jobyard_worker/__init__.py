"""What every worker service is made of, wired once: a FastStream app on RabbitMQ, the job
store, the outbox relay and its sweeper, NATS for live fan-out, and an HTTP health endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar, cast

from aiormq.exceptions import AMQPConnectionError
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.rabbit import Channel, RabbitBroker, RabbitQueue
from nats.aio.client import Client as NatsClient
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from jobyard_contracts import Envelope, Payload
from jobyard_livestream import LiveStream
from jobyard_logging import bound, configure_logging, get_logger
from jobyard_messaging import EnvelopePublisher, OutboxRelay, Topology
from jobyard_metrics import exposition
from jobyard_settings import InfraSettings
from jobyard_store import (
    Applied,
    DeadLetters,
    Decide,
    EventLog,
    JobDocument,
    JobNotFoundError,
    JobRepository,
    LogStore,
    connect,
    ensure_indexes,
)
from jobyard_worker.dead_letters import DeadLetterKeeper
from jobyard_worker.handling import HandlingObserver

BROKER_WAIT_SECONDS = 120.0

BackgroundTask = Callable[[], Awaitable[None]]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[None]])


class Worker:
    def __init__(
        self,
        service: str,
        infra: InfraSettings,
        *,
        prefetch: int = 16,
        outbox_sweep_seconds: float = 2.0,
    ) -> None:
        configure_logging(service, infra.log_level, infra.log_format)
        self.service = service
        self.infra = infra
        self.names = infra.names
        self.log = get_logger(service)
        self.mongo, self.db = connect(infra)
        dead_letters = DeadLetters(self.db)
        self._handling = HandlingObserver(service, dead_letters)
        self._keeper = DeadLetterKeeper(service, dead_letters)
        self.broker = RabbitBroker(
            infra.rabbitmq_url,
            default_channel=Channel(prefetch_count=prefetch),
            log_level=10,
            middlewares=[self._handling.middleware()],
        )
        self.topology = Topology(self.names)
        self.jobs = JobRepository(self.db)
        self.logs = LogStore(self.db)
        self.events = EventLog(self.db)
        self._nats = NatsClient()
        self.live = LiveStream(self._nats)
        self.relay = OutboxRelay(
            EnvelopePublisher(self.broker, self.topology),
            self.jobs,
            self.events,
            self.live,
            self.names,
        )
        self._background: list[BackgroundTask] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._on_start: list[BackgroundTask] = []
        self._on_stop: list[BackgroundTask] = []
        # Republish outbox entries a crash left between a write and its publish.
        sweep_age = timedelta(seconds=outbox_sweep_seconds)
        self.every(outbox_sweep_seconds, lambda: self.relay.sweep_once(sweep_age))

    def subscriber(self, handler: str, message: type[Payload]) -> Callable[[Handler], Handler]:
        """Subscribe a handler to one message type through its own quorum queue.

        The message is acknowledged after the handler returns, i.e. after its state change is
        stored; an exception requeues it, and past the delivery limit it is dead-lettered.
        """
        return self._subscribe(
            self.topology.consumer_queue(self.service, handler, message), handler
        )

    def host_subscriber(
        self, handler: str, message: type[Payload], host: str
    ) -> Callable[[Handler], Handler]:
        """Subscribe a handler to the commands of `message` routed to this host only."""
        return self._subscribe(
            self.topology.host_queue(self.service, handler, message, host), handler
        )

    def _subscribe(self, queue: RabbitQueue, handler: str) -> Callable[[Handler], Handler]:
        self._handling.name(queue.name, handler)
        subscribe = self.broker.subscriber(
            queue,
            self.topology.exchange,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=queue.name,
        )
        dead_letters = self.topology.dead_letter_queue(queue.name)
        self._handling.name(dead_letters.name, "dead-letters")
        self.broker.subscriber(
            dead_letters, ack_policy=AckPolicy.NACK_ON_ERROR, title=dead_letters.name
        )(self._keeper.keeper_of(queue.name))

        def decorate(handler: Handler) -> Handler:
            subscribe(handler)
            return handler  # FastStream keeps its own wrapper; the function stays callable

        return cast("Callable[[Handler], Handler]", decorate)

    async def apply(
        self, msg: Envelope[Any], decide: Decide, current: JobDocument | None = None
    ) -> Applied | None:
        """Apply a domain decision to the message's job, then publish what it announced.
        `current`: the job as the handler just read it (see `JobRepository.change`)."""
        with bound(job_id=msg.job_id, correlation_id=msg.correlation_id, message_id=msg.id):
            try:
                applied = await self.relay.change(
                    msg.job_id, decide, causation_id=msg.id, current=current
                )
            except JobNotFoundError:
                self.log.info("job no longer exists; message ignored", type=msg.type)
                return None
            if applied.envelopes:
                self.log.info(
                    "job changed",
                    cause=msg.type,
                    status=applied.job.status,
                    events=[e.type for e in applied.envelopes],
                )
            return applied

    def on_start(self, task: BackgroundTask) -> None:
        """Run `task` once at startup, before the service reports healthy or consumes."""
        self._on_start.append(task)

    def on_stop(self, task: BackgroundTask) -> None:
        """Run `task` at a clean shutdown, once the background tasks have stopped and before the
        connections close (not after a kill)."""
        self._on_stop.append(task)

    def background(self, task: BackgroundTask) -> None:
        """Run `task` for the life of the service (started once the broker is up)."""
        self._background.append(task)

    def every(self, seconds: float, task: Callable[[], Awaitable[object]]) -> None:
        """Run `task` every `seconds` for the life of the service; a failing run is logged
        and the next one happens on time (store or broker outages pass)."""

        async def periodically() -> None:
            while True:
                try:
                    await task()
                except Exception:
                    self.log.warning("periodic task failed", exc_info=True)
                await asyncio.sleep(seconds)

        self.background(periodically)

    async def _on_startup(self) -> None:
        await ensure_indexes(self.db)
        for task in self._on_start:
            await task()
        await self._connect_broker()
        await self.topology.declare_support(self.broker)
        try:
            await self._nats.connect(
                self.infra.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=1
            )
        except Exception:
            self.log.warning("nats unavailable; live streams disabled", exc_info=True)

    async def _connect_broker(self) -> None:
        """RabbitMQ may be restarting while this service starts: wait for it rather than exit
        (for a while; past that the service fails to start, and its supervisor restarts it)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((AMQPConnectionError, ConnectionError)),
            wait=wait_fixed(1),
            stop=stop_after_delay(BROKER_WAIT_SECONDS),
            before_sleep=lambda _: self.log.warning("RabbitMQ unreachable; retrying"),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self.broker.connect()

    async def _after_startup(self) -> None:
        self._tasks = [asyncio.create_task(self._guard(task)) for task in self._background]
        self.log.info("service started")

    async def _guard(self, task: BackgroundTask) -> None:
        while True:
            try:
                await task()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("background task crashed; restarting")
                await asyncio.sleep(1)

    async def _on_shutdown(self) -> None:
        # The loops stop first: a host report written after its withdrawal would offer a
        # stopped host to the scheduler, and a pool refilled after its drain would leave
        # sandboxes behind.
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for stop in self._on_stop:
            try:
                await stop()
            except Exception:
                self.log.warning("shutdown task failed", exc_info=True)
        if self._nats.is_connected:
            await self._nats.close()
        await self.mongo.close()

    async def healthy(self) -> bool:
        try:
            await self.db.command("ping")
        except Exception:
            return False
        return await self.broker.ping(timeout=2.0)

    def app(self) -> AsgiFastStream:
        @get
        async def healthz(scope: Any) -> AsgiResponse:
            if await self.healthy():
                return AsgiResponse(
                    b'{"status":"ok"}', 200, headers={"content-type": "application/json"}
                )
            return AsgiResponse(b'{"status":"unavailable"}', 503)

        @get
        async def metrics(scope: Any) -> AsgiResponse:
            # The outbox is measured when scraped: one store read per scrape, not per sweep.
            try:
                await asyncio.wait_for(self.relay.measure_backlog(), timeout=2.0)
            except Exception:
                self.log.warning("outbox backlog not measured", exc_info=True)
            body, content_type = exposition()
            return AsgiResponse(body, 200, headers={"content-type": content_type})

        return AsgiFastStream(
            self.broker,
            asgi_routes=[("/healthz", healthz), ("/metrics", metrics)],
            on_startup=[self._on_startup],
            after_startup=[self._after_startup],
            on_shutdown=[self._on_shutdown],
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        """The service running in this event loop, with the same hooks as `app()`."""
        await self._on_startup()
        await self.broker.start()
        await self._after_startup()
        try:
            yield self
        finally:
            await self.broker.stop()
            await self._on_shutdown()

    def run(self, host: str, port: int) -> None:
        asyncio.run(self.app().run(run_extra_options={"host": host, "port": port}))


__all__ = ["Worker"]
