"""The gateway process: `jobyard-gateway`, a Litestar app built by `create_app()`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from faststream.rabbit import RabbitBroker
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig

from jobyard_gateway.adapters.users import UserStore
from jobyard_gateway.auth import authentication
from jobyard_gateway.controllers.health import healthz, readyz
from jobyard_gateway.controllers.jobs import JobController
from jobyard_gateway.errors import validation_error
from jobyard_gateway.settings import GatewaySettings
from jobyard_logging import configure_logging
from jobyard_messaging import EnvelopePublisher, OutboxRelay, Topology
from jobyard_store import JobRepository, LogStore, connect, ensure_indexes


def create_app(settings: GatewaySettings | None = None) -> Litestar:
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.infra.log_level, settings.infra.log_format)
    mongo, db = connect(settings.infra)
    broker = RabbitBroker(settings.infra.rabbitmq_url)
    topology = Topology(settings.infra.names)
    jobs, logs, users = JobRepository(db), LogStore(db), UserStore(db)
    # Live fan-out of job events happens in the workers' relays; the gateway only publishes.
    relay = OutboxRelay(EnvelopePublisher(broker, topology), jobs, None, settings.infra.names)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await ensure_indexes(db)
        await users.ensure_indexes()
        await broker.connect()
        await topology.declare_support(broker)
        try:
            yield
        finally:
            await broker.stop()
            await mongo.close()

    def constant(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    return Litestar(
        route_handlers=[JobController, healthz, readyz],
        dependencies={
            "jobs": constant(jobs),
            "logs": constant(logs),
            "relay": constant(relay),
            "limits": constant(settings.limits),
            "db": constant(db),
            "broker": constant(broker),
        },
        middleware=[authentication],
        exception_handlers={ValidationException: validation_error},
        lifespan=[lifespan],
        state=State({"users": users}),
        logging_config=LoggingConfig(log_exceptions="always", configure_root_logger=False),
        openapi_config=OpenAPIConfig(title="Jobyard API", version="1.0.0", path="/schema"),
    )


def main() -> None:
    settings = GatewaySettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
