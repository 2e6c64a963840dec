"""The messaging backbone against a real RabbitMQ and the MongoDB stand-in."""

import asyncio
from datetime import timedelta

import pytest

from jobyard_contracts import Envelope, JobAdmitted
from jobyard_messaging import EnvelopePublisher, OutboxRelay
from jobyard_settings import InfraSettings
from jobyard_store import DeadLetters
from jobyard_testing.cleanup import delete_namespace
from jobyard_testing.factories import make_job
from jobyard_testing.fixtures import unique_namespace
from jobyard_testing.rabbit import queue_depth, read_history
from jobyard_worker import Worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
async def worker(infra: InfraSettings):
    settings = infra.model_copy(update={"namespace": unique_namespace("msg")})
    worker = Worker("probe", settings, outbox_sweep_seconds=3600)
    received: list[Envelope[JobAdmitted]] = []
    worker.received = received

    @worker.subscriber("on-admitted", JobAdmitted)
    async def on_admitted(msg: Envelope[JobAdmitted]) -> None:
        received.append(msg)

    async with worker.running():
        yield worker
    await delete_namespace(settings.namespace)


async def wait_until(predicate, timeout=15.0):
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_poison_messages_are_dead_lettered_not_looped(worker):
    queue = worker.names.consumer_queue("probe", "on-admitted")
    for body in (b"not json at all", b'{"type": "job.admitted", "payload": {}}'):
        await worker.broker.publish(
            body, exchange=worker.topology.exchange, routing_key="job.admitted"
        )
    letters = DeadLetters(worker.db)
    for _ in range(200):
        if len(await letters.find(queue=queue)) == 2:
            break
        await asyncio.sleep(0.1)
    kept = await letters.find(queue=queue)
    assert sorted(letter.body for letter in kept) == sorted(
        ['{"type": "job.admitted", "payload": {}}', "not json at all"]
    )
    url = worker.infra.rabbitmq_url
    assert await queue_depth(url, queue) == 0
    assert await queue_depth(url, worker.names.dead_letter_queue(queue)) == 0
    assert worker.received == []


async def test_a_change_is_published_and_retained_in_the_history_stream(worker):
    applied = await worker.jobs.create(make_job(), [JobAdmitted()])
    await worker.relay.deliver(applied)
    assert await wait_until(lambda: len(worker.received) == 1)
    assert worker.received[0].id == applied.envelopes[0].id
    raw = await worker.db["jobs"].find_one({"_id": applied.job.id})
    assert raw["outbox"] == []
    history = await read_history(
        worker.infra.rabbitmq_url, worker.names.history_stream, applied.job.id, 1
    )
    assert [m["id"] for m in history] == [str(applied.envelopes[0].id)]


async def test_an_event_stored_but_never_published_is_swept_out(worker):
    # A process that died right after the write: the event exists only in the outbox.
    applied = await worker.jobs.create(make_job(), [JobAdmitted()])
    assert worker.received == []
    assert await worker.relay.sweep_once(min_age=timedelta(0)) == 1
    assert await wait_until(lambda: len(worker.received) == 1)
    assert worker.received[0].id == applied.envelopes[0].id
    assert await worker.relay.sweep_once(min_age=timedelta(0)) == 0


async def test_two_sweepers_never_publish_one_entry_at_the_same_time(worker):
    applied = [await worker.jobs.create(make_job(), [JobAdmitted()]) for _ in range(20)]
    other = OutboxRelay(
        EnvelopePublisher(worker.broker, worker.topology),
        worker.jobs,
        worker.events,
        None,
        worker.names,
    )
    sent = await asyncio.gather(
        worker.relay.sweep_once(min_age=timedelta(0)), other.sweep_once(min_age=timedelta(0))
    )
    assert sum(sent) == 20
    assert await wait_until(lambda: len(worker.received) == 20)
    assert sorted(str(m.id) for m in worker.received) == sorted(
        str(a.envelopes[0].id) for a in applied
    )
