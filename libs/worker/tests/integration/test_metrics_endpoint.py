"""`GET /metrics` of a worker served over HTTP as `Worker.run` serves it (uvicorn, the app's
lifespan starting the broker), against a real RabbitMQ and the MongoDB stand-in."""

import asyncio
from datetime import timedelta

import pytest
import uvicorn

from jobyard_contracts import Envelope, JobAdmitted
from jobyard_settings import InfraSettings
from jobyard_testing.cleanup import delete_namespace
from jobyard_testing.factories import make_job
from jobyard_testing.fixtures import unique_namespace
from jobyard_testing.metrics import scrape
from jobyard_testing.polling import eventually
from jobyard_testing.stack import free_port
from jobyard_worker import Worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
async def served(infra: InfraSettings):
    """A worker with one handler, its health port on HTTP; no sweeper (it would publish the
    outbox entries the test leaves on purpose)."""
    settings = infra.model_copy(update={"namespace": unique_namespace("metrics")})
    worker = Worker("probe", settings, outbox_sweep_seconds=3600)

    @worker.subscriber("on-admitted", JobAdmitted)
    async def on_admitted(msg: Envelope[JobAdmitted]) -> None:
        return None

    port = free_port()
    config = uvicorn.Config(worker.app(), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=30)
    try:
        yield worker, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        await delete_namespace(settings.namespace)


async def test_metrics_are_served_with_handled_messages_and_the_outbox_measured(served):
    worker, url = served
    empty = await scrape(url)
    assert {
        "jobyard_messages_handled",
        "jobyard_message_handling_seconds",
        "jobyard_dead_letters",
        "jobyard_outbox_pending_messages",
        "jobyard_outbox_oldest_message_age_seconds",
    } <= empty.families
    assert empty.value("jobyard_outbox_pending_messages") == 0
    assert empty.value("jobyard_outbox_oldest_message_age_seconds") == 0

    # Written and never published (as after a crash between the write and the publish).
    await worker.jobs.create(make_job(), [JobAdmitted(), JobAdmitted()])
    await asyncio.sleep(0.5)
    waiting = await scrape(url)
    assert waiting.value("jobyard_outbox_pending_messages") == 2
    assert 0.5 <= waiting.value("jobyard_outbox_oldest_message_age_seconds") < 30

    handled = {"service": "probe", "handler": "on-admitted", "outcome": "ok"}
    before = waiting.value("jobyard_messages_handled_total", **handled)
    assert await worker.relay.sweep_once(min_age=timedelta(0)) == 2

    async def both_handled():
        found = await scrape(url)
        return (
            found
            if found.value("jobyard_messages_handled_total", **handled) == before + 2
            else None
        )

    published = await eventually(both_handled, timeout=15)
    assert published.value("jobyard_outbox_pending_messages") == 0
    assert published.value("jobyard_message_handling_seconds_count", handler="on-admitted") >= 2
