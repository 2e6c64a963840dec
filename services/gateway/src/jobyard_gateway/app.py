"""The gateway process: `jobyard-gateway`, a Litestar app built by `create_app()`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from faststream.rabbit import RabbitBroker
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from urllib3.exceptions import HTTPError as StorageUnreachableError

from jobyard_gateway.adapters.chats import ChatRegistry
from jobyard_gateway.adapters.feeds import JobFeed, UserFeed
from jobyard_gateway.adapters.live_tokens import LiveTokens
from jobyard_gateway.adapters.users import UserStore
from jobyard_gateway.auth import authentication
from jobyard_gateway.controllers.files import FileController, list_job_files
from jobyard_gateway.controllers.forks import fork
from jobyard_gateway.controllers.health import healthz, metrics, readyz
from jobyard_gateway.controllers.images import get_image, list_images
from jobyard_gateway.controllers.jobs import JobController
from jobyard_gateway.controllers.live import (
    create_live_token,
    follow_job,
    follow_my_jobs,
    list_job_events,
)
from jobyard_gateway.controllers.messages import MessageController
from jobyard_gateway.controllers.notifications import NotificationController
from jobyard_gateway.controllers.users import create_user
from jobyard_gateway.controllers.webhooks import WebhookController
from jobyard_gateway.dashboard import route_handlers as dashboard_routes
from jobyard_gateway.dashboard import template_config as dashboard_templates
from jobyard_gateway.dashboard.sessions import DashboardSessions
from jobyard_gateway.errors import bad_request, storage_unavailable
from jobyard_gateway.settings import GatewaySettings
from jobyard_livestream import LiveStream, live_in_background
from jobyard_logging import configure_logging, get_logger
from jobyard_messaging import EnvelopePublisher, OutboxRelay, Topology
from jobyard_objects import ObjectStore
from jobyard_store import (
    EventLog,
    ImageRegistry,
    JobRepository,
    LogStore,
    connect,
    ensure_indexes,
)
from jobyard_store.files import FileRepository


@dataclass(frozen=True)
class Adapters:
    """Connections and stores, created inside the running event loop (PyMongo binds to it)."""

    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    broker: RabbitBroker
    jobs: JobRepository
    logs: LogStore
    users: UserStore
    images: ImageRegistry
    relay: OutboxRelay
    chats: ChatRegistry
    files: FileRepository
    objects: ObjectStore
    events: EventLog
    stream: LiveStream
    stream_connecting: asyncio.Task[None]
    live_tokens: LiveTokens
    job_feed: JobFeed
    user_feed: UserFeed


ADAPTER_NAMES = (
    "jobs",
    "logs",
    "relay",
    "db",
    "broker",
    "users",
    "images",
    "chats",
    "files",
    "objects",
    "events",
    "live_tokens",
    "job_feed",
    "user_feed",
)


def build_adapters(settings: GatewaySettings) -> Adapters:
    mongo, db = connect(settings.infra)
    broker = RabbitBroker(settings.infra.rabbitmq_url)
    names = settings.infra.names
    jobs, events, logs = JobRepository(db), EventLog(db), LogStore(db)
    stream, stream_connecting = live_in_background(settings.infra.nats_url)
    relay = OutboxRelay(EnvelopePublisher(broker, Topology(names)), jobs, events, stream, names)
    return Adapters(
        mongo,
        db,
        broker,
        jobs,
        logs,
        UserStore(db),
        ImageRegistry(db),
        relay,
        ChatRegistry(db, jobs),
        FileRepository(db),
        ObjectStore(settings.objects, settings.objects.bucket_for(settings.infra)),
        events,
        stream,
        stream_connecting,
        LiveTokens(db),
        JobFeed(
            jobs=jobs, events=events, logs=logs, stream=stream, names=names, settings=settings.live
        ),
        UserFeed(events=events, stream=stream, names=names, settings=settings.live),
    )


log = get_logger("gateway")


def create_app(settings: GatewaySettings | None = None) -> Litestar:
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.infra.log_level, settings.infra.log_format)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        adapters = build_adapters(settings)
        await ensure_indexes(adapters.db)
        await adapters.users.ensure_indexes()
        await adapters.live_tokens.ensure_indexes()
        await DashboardSessions(adapters.db).ensure_indexes()
        try:
            await asyncio.to_thread(adapters.objects.ensure_bucket)
        except StorageUnreachableError:  # jobs work without it; the files API answers 503
            log.warning("file storage unreachable at start", endpoint=settings.objects.endpoint)
        await adapters.broker.connect()
        await Topology(settings.infra.names).declare_support(adapters.broker)
        app.state.adapters = adapters
        try:
            yield
        finally:
            adapters.stream_connecting.cancel()
            await adapters.stream.close()
            await adapters.broker.stop()
            await adapters.mongo.close()

    def adapter(name: str) -> Provide:
        def provide(state: State) -> Any:
            return getattr(state.adapters, name)

        return Provide(provide, use_cache=True, sync_to_thread=False)

    return Litestar(
        route_handlers=[
            JobController,
            fork,
            MessageController,
            FileController,
            list_job_files,
            WebhookController,
            NotificationController,
            list_job_events,
            create_live_token,
            follow_job,
            follow_my_jobs,
            list_images,
            get_image,
            create_user,
            healthz,
            readyz,
            metrics,
            *dashboard_routes,
        ],
        dependencies={
            **{name: adapter(name) for name in ADAPTER_NAMES},
            "limits": Provide(lambda: settings.limits, use_cache=True, sync_to_thread=False),
            "file_limits": Provide(lambda: settings.files, use_cache=True, sync_to_thread=False),
            "destination_policy": Provide(
                lambda: settings.webhooks, use_cache=True, sync_to_thread=False
            ),
            "live_settings": Provide(lambda: settings.live, use_cache=True, sync_to_thread=False),
            "upload_verify_wait_seconds": Provide(
                lambda: settings.upload_verify_wait_seconds, use_cache=True, sync_to_thread=False
            ),
            "admin_token": Provide(
                lambda: settings.admin_token, use_cache=True, sync_to_thread=False
            ),
        },
        middleware=[authentication],
        exception_handlers={
            ValidationException: bad_request,
            400: bad_request,
            StorageUnreachableError: storage_unavailable,
        },
        lifespan=[lifespan],
        state=State({}),
        logging_config=LoggingConfig(log_exceptions="always", configure_root_logger=False),
        template_config=dashboard_templates,
        openapi_config=OpenAPIConfig(title="Jobyard API", version="1.0.0", path="/schema"),
    )


def main() -> None:
    settings = GatewaySettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
