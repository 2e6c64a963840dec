"""The notifications service against real RabbitMQ, the MongoDB stand-in, NATS and a webhook
receiver process: events become signed deliveries, retried on schedule, once per event."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from jobyard_contracts import JobCompleted, JobStarted, Payload
from jobyard_notifications.app import create_worker
from jobyard_notifications.settings import NotificationsSettings
from jobyard_store.notifications import Notifications
from jobyard_store.webhooks import (
    DeliveryStatus,
    WebhookDeliveries,
    WebhookEndpoint,
    WebhookEndpoints,
    new_endpoint_id,
)
from jobyard_testing.cleanup import delete_namespace
from jobyard_testing.factories import make_job
from jobyard_testing.polling import eventually
from jobyard_testing.webhook_receiver import unique_hook
from jobyard_webhooks import DestinationPolicy, WebhookEventType, new_secret
from jobyard_worker import Worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LOOPBACK = DestinationPolicy(allowed_networks=["127.0.0.0/8"])


def settings_for(infra, namespace: str, **changes) -> NotificationsSettings:
    quick = {"retry_schedule": [0.3, 0.3, 0.3, 0.3], "timeout_seconds": 1.5, "poll_seconds": 0.5}
    return NotificationsSettings(
        infra=infra.model_copy(update={"namespace": namespace}),
        destinations=LOOPBACK,
        **(quick | changes),
    )


@pytest.fixture
async def service(infra, mongo_db):
    worker = create_worker(settings_for(infra, mongo_db.name))
    async with worker.running():
        yield worker
    await delete_namespace(mongo_db.name)


async def add_endpoint(worker: Worker, url: str, *types: WebhookEventType) -> WebhookEndpoint:
    now = datetime.now(UTC)
    endpoint = WebhookEndpoint(
        id=new_endpoint_id(),
        user_id="usr_test",
        url=url,
        event_types=[t.value for t in types or WebhookEventType],
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    await WebhookEndpoints(worker.db).insert(endpoint)
    return endpoint


async def publish(worker: Worker, *events: Payload):
    """A job with `events` in its outbox, published as a service would."""
    applied = await worker.jobs.create(make_job(name="report"), list(events))
    await worker.relay.deliver(applied)
    return applied


async def deliveries_of(worker: Worker, endpoint: WebhookEndpoint):
    return await WebhookDeliveries(worker.db).of_endpoint(endpoint.id)


async def test_an_event_is_delivered_signed_and_the_owner_told(service, webhook_receiver):
    key = unique_hook()
    endpoint = await add_endpoint(service, webhook_receiver.url(key))
    webhook_receiver.script(key, endpoint.secret)
    nats = NatsClient()
    await nats.connect(service.infra.nats_url)
    live = await nats.subscribe(service.names.live_user_subject("usr_test"))
    try:
        applied = await publish(service, JobCompleted(summary="42"))
        received = await eventually(lambda: webhook_receiver.received(key))
        pushed = await next_notification(live)
    finally:
        await nats.close()
    assert len(received) == 1
    assert received[0]["verified"], received[0]["problem"]
    body = received[0]["body"]
    assert body["type"] == "job.completed"
    assert body["data"]["job"] == {
        "id": applied.job.id,
        "name": "report",
        "kind": "script",
        "status": "completed",
    }
    assert body["data"]["summary"] == "42"
    [delivery] = await eventually(lambda: deliveries_of(service, endpoint))
    assert delivery.id == received[0]["webhook_id"]
    await eventually(lambda: _status(service, endpoint, DeliveryStatus.DELIVERED), timeout=10)
    [told] = await Notifications(service.db).of_user("usr_test", unread=True, limit=10)
    assert (told.kind, told.job_id) == ("job.completed", applied.job.id)
    assert pushed["type"] == "notification"
    assert pushed["notification"]["id"] == told.id
    assert pushed["notification"]["read"] is False


async def next_notification(live):
    """The next notification on a user's live feed (which also carries their jobs' events)."""
    while True:
        message = json.loads((await live.next_msg(timeout=10)).data)
        if message["type"] == "notification":
            return message


async def _status(worker, endpoint, status):
    found = await deliveries_of(worker, endpoint)
    return found if found and all(d.status is status for d in found) else None


async def test_failures_are_retried_with_the_same_id_until_accepted(service, webhook_receiver):
    key = unique_hook()
    endpoint = await add_endpoint(service, webhook_receiver.url(key))
    webhook_receiver.script(key, endpoint.secret, [{"status": 500}] * 3)
    retried, delivered = attempts_counted("pending"), attempts_counted("delivered")
    await publish(service, JobStarted())
    [delivery] = await eventually(
        lambda: _status(service, endpoint, DeliveryStatus.DELIVERED), timeout=30
    )
    assert (attempts_counted("pending"), attempts_counted("delivered")) == (
        retried + 3,
        delivered + 1,
    )
    received = webhook_receiver.received(key)
    assert [r["answer"]["status"] for r in received] == [500, 500, 500, 200]
    assert {r["webhook_id"] for r in received} == {delivery.id}
    assert all(r["verified"] for r in received)
    assert [a.status_code for a in delivery.attempts] == [500, 500, 500, 200]
    assert [a.error for a in delivery.attempts] == ["HTTP 500"] * 3 + [None]
    assert all(a.latency_ms >= 0 for a in delivery.attempts)
    gaps = [b.at - a.at for a, b in zip(delivery.attempts, delivery.attempts[1:], strict=False)]
    assert all(gap.total_seconds() >= 0.3 for gap in gaps)


def attempts_counted(outcome: str) -> float:
    """`jobyard_webhook_attempts_total` of this process (each test runs one service)."""
    found = REGISTRY.get_sample_value("jobyard_webhook_attempts_total", {"outcome": outcome})
    return found or 0.0


async def test_a_redelivered_event_makes_no_second_delivery_or_notification(
    service, webhook_receiver
):
    key = unique_hook()
    endpoint = await add_endpoint(service, webhook_receiver.url(key))
    webhook_receiver.script(key, endpoint.secret)
    applied = await publish(service, JobCompleted())
    await eventually(lambda: _status(service, endpoint, DeliveryStatus.DELIVERED))
    raw = json.loads(applied.envelopes[0].model_dump_json())
    await service.relay._publisher.publish([raw])  # RabbitMQ redelivers, or a sweep repeats
    await asyncio.sleep(2)
    assert len(webhook_receiver.received(key)) == 1
    assert len(await deliveries_of(service, endpoint)) == 1
    assert len(await Notifications(service.db).of_user("usr_test", unread=False, limit=9)) == 1


async def test_only_subscribed_types_are_delivered(service, webhook_receiver):
    key = unique_hook()
    endpoint = await add_endpoint(service, webhook_receiver.url(key), WebhookEventType.JOB_STARTED)
    webhook_receiver.script(key, endpoint.secret)
    await publish(service, JobStarted(), JobCompleted())
    await eventually(lambda: webhook_receiver.received(key))
    await asyncio.sleep(1)
    assert [r["body"]["type"] for r in webhook_receiver.received(key)] == ["job.started"]


async def test_a_private_destination_is_refused_at_delivery_time(service):
    # Stored without the gateway's check (or a name that resolved elsewhere at creation).
    endpoint = await add_endpoint(service, "http://10.255.255.1:9/hook")
    await publish(service, JobStarted())
    [delivery] = await eventually(lambda: deliveries_of(service, endpoint))
    delivery = (await eventually(lambda: _attempted(service, endpoint)))[0]
    assert delivery.attempts[0].status_code is None
    assert "10.255.255.1 is a private address" in (delivery.attempts[0].error or "")
    assert delivery.attempts[0].latency_ms < 1000  # refused, not tried


async def _attempted(worker, endpoint):
    found = await deliveries_of(worker, endpoint)
    return found if found and found[0].attempts else None


async def test_the_last_failure_fails_the_delivery_and_a_long_failing_endpoint_is_disabled(
    infra, mongo_db, webhook_receiver
):
    worker = create_worker(settings_for(infra, mongo_db.name, disable_after_seconds=0.5))
    key = unique_hook()
    async with worker.running():
        endpoint = await add_endpoint(worker, webhook_receiver.url(key))
        webhook_receiver.script(key, endpoint.secret, default={"status": 503})
        await publish(worker, JobStarted())
        [delivery] = await eventually(
            lambda: _status(worker, endpoint, DeliveryStatus.FAILED), timeout=30
        )
        stored = await WebhookEndpoints(worker.db).get(endpoint.id)
        told = await Notifications(worker.db).of_user("usr_test", unread=True, limit=10)
    await delete_namespace(mongo_db.name)
    assert stored is not None
    assert not stored.enabled
    assert "every attempt failed" in stored.disabled_reason
    assert [n.kind for n in told] == ["webhook.disabled"]
    assert told[0].webhook_id == endpoint.id
    # Disabled by the first failure 0.5 s after the first: the rest of the 5 scheduled
    # attempts are not made.
    assert 2 <= len(delivery.attempts) < 5
    assert delivery.attempts[-1].at - delivery.attempts[0].at >= timedelta(seconds=0.5)
    assert len(webhook_receiver.received(key)) == len(delivery.attempts)


async def test_two_replicas_never_attempt_one_delivery_at_once(infra, mongo_db, webhook_receiver):
    settings = settings_for(infra, mongo_db.name)
    first, second = create_worker(settings), create_worker(settings)
    key = unique_hook()
    async with first.running(), second.running():
        endpoint = await add_endpoint(first, webhook_receiver.url(key))
        webhook_receiver.script(key, endpoint.secret, default={"status": 200, "delay": 0.3})
        for _ in range(6):
            await publish(first, JobStarted())
        await eventually(lambda: len(webhook_receiver.received(key)) >= 6, timeout=30)
        await asyncio.sleep(1)
    await delete_namespace(mongo_db.name)
    ids = [r["webhook_id"] for r in webhook_receiver.received(key)]
    assert len(ids) == len(set(ids)) == 6


async def test_a_retry_due_while_the_service_was_down_is_made_after_its_restart(
    infra, mongo_db, webhook_receiver
):
    settings = settings_for(infra, mongo_db.name, retry_schedule=[2.0])
    key = unique_hook()
    worker = create_worker(settings)
    async with worker.running():
        endpoint = await add_endpoint(worker, webhook_receiver.url(key))
        webhook_receiver.script(key, endpoint.secret, [{"status": 500}])
        await publish(worker, JobStarted())
        await eventually(lambda: webhook_receiver.received(key))
    await asyncio.sleep(2.5)  # the retry falls due while no service runs
    assert len(webhook_receiver.received(key)) == 1
    async with create_worker(settings).running() as restarted:
        [delivery] = await eventually(
            lambda: _status(restarted, endpoint, DeliveryStatus.DELIVERED), timeout=20
        )
    await delete_namespace(mongo_db.name)
    assert [a.status_code for a in delivery.attempts] == [500, 200]
    assert len({r["webhook_id"] for r in webhook_receiver.received(key)}) == 1
