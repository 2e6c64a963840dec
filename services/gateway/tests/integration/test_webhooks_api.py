"""Webhooks and notifications over HTTP: input checked field by field, the secret shown only
at creation and rotation, everything scoped to its owner, replays and retries requeued."""

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from jobyard_contracts import JobCompleted, JobStarted, envelope_for
from jobyard_gateway.adapters.users import UserStore
from jobyard_gateway.app import create_app
from jobyard_gateway.settings import GatewaySettings
from jobyard_store.events import EventLog
from jobyard_store.notifications import Notification, NotificationKind, Notifications
from jobyard_store.webhooks import DeliveryStatus, WebhookDeliveries
from jobyard_testing.cleanup import delete_namespace
from jobyard_webhooks import DestinationPolicy, WebhookEventType

pytestmark = pytest.mark.integration

RECEIVER = "http://127.0.0.1:9/hooks/a"


@pytest.fixture
async def client(infra, mongo_db):
    namespace = mongo_db.name
    settings = GatewaySettings(
        infra=infra.model_copy(update={"namespace": namespace}),
        webhooks=DestinationPolicy(allowed_networks=["127.0.0.0/8"]),
    )
    alice, key = await UserStore(mongo_db).create("alice")
    async with AsyncTestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        client.db = mongo_db
        client.user_id = alice.id
        yield client
    await delete_namespace(namespace)


async def create(client, **body) -> dict:
    response = await client.post("/v1/webhooks", json={"url": RECEIVER} | body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_creating_answers_the_secret_once(client):
    created = await create(client, event_types=["job.completed"], description="ci")
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["job.completed"]
    assert created["enabled"] is True
    listed = (await client.get("/v1/webhooks")).json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]]
    shown = (await client.get(f"/v1/webhooks/{created['id']}")).json()
    assert "secret" not in listed[0]
    assert "secret" not in shown
    assert created["secret"] not in json.dumps(listed) + json.dumps(shown)


async def test_all_event_types_by_default(client):
    assert (await create(client))["event_types"] == [t.value for t in WebhookEventType]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"url": "ftp://example.com/x"}, "url", "http"),
        ({"url": "http://10.0.0.1/hook"}, "url", "private"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "metadata"),
        ({"url": "http://[::1]:8080/hook"}, "url", "loopback"),
        ({"url": "http://192.168.1.20/hook"}, "url", "private"),
        ({"url": "https://no-such-host.invalid/"}, "url", "resolve"),
        ({"url": ""}, "url", ""),
        ({"event_types": ["job.exploded"]}, "event_types", ""),
        ({"event_types": []}, "event_types", ""),
        ({"description": "x" * 501}, "description", ""),
        ({"colour": "blue"}, "colour", ""),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(client, body, field, says):
    response = await client.post("/v1/webhooks", json={"url": RECEIVER} | body)
    assert response.status_code == 422, response.text
    errors = {e["field"].split(".")[0]: e["message"] for e in response.json()["errors"]}
    assert field in errors
    assert says in errors[field]
    assert await client.db["webhook_endpoints"].count_documents({}) == 0


async def test_update_rotate_and_delete(client):
    created = await create(client)
    hook = f"/v1/webhooks/{created['id']}"
    changed = await client.patch(hook, json={"event_types": ["job.failed"], "enabled": False})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["event_types"], changed.json()["enabled"]) == (["job.failed"], False)
    refused = await client.patch(hook, json={"url": "http://10.1.1.1/"})
    assert refused.status_code == 422
    assert "url" in refused.text
    rotated = (await client.post(f"{hook}/rotate-secret")).json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    stored = await client.db["webhook_endpoints"].find_one({"_id": created["id"]})
    assert stored["secret"] == rotated["secret"]
    assert (await client.delete(hook)).status_code == 204
    assert (await client.get(hook)).status_code == 404
    assert (await client.delete(hook)).status_code == 404


async def test_another_users_webhook_is_a_404_everywhere(client):
    created = await create(client)
    hook = f"/v1/webhooks/{created['id']}"
    _, bob_key = await UserStore(client.db).create("bob")
    bob = {"Authorization": f"Bearer {bob_key}"}
    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for method, path, body in [
        ("GET", hook, None),
        ("PATCH", hook, {"description": "mine now"}),
        ("DELETE", hook, None),
        ("POST", f"{hook}/rotate-secret", None),
        ("GET", f"{hook}/deliveries", None),
        ("POST", f"{hook}/deliveries/msg_x/retry", None),
        ("POST", f"{hook}/replay?since={since}", None),
    ]:
        response = await client.request(method, path, json=body, headers=bob)
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get("/v1/webhooks", headers=bob)).json() == {"webhooks": []}
    assert (await client.get(hook)).json()["description"] == ""


async def record_events(client, *payloads, at: datetime):
    """Events of a job of the caller, as the relay keeps them."""
    job_id, correlation = f"job_{uuid4().hex[:8]}", uuid4()
    envelopes = [
        envelope_for(
            p,
            job_id=job_id,
            user_id=client.user_id,
            correlation_id=correlation,
            sequence=n,
            occurred_at=at,
        )
        for n, p in enumerate(payloads, start=1)
    ]
    await EventLog(client.db).record([json.loads(e.model_dump_json()) for e in envelopes])
    return envelopes


async def test_replay_resends_matching_events_and_keeps_delivery_ids(client):
    created = await create(client, event_types=["job.completed"])
    hook = f"/v1/webhooks/{created['id']}"
    now = datetime.now(UTC)
    await record_events(client, JobStarted(), JobCompleted(), at=now - timedelta(hours=2))
    await record_events(client, JobStarted(), JobCompleted(summary="s"), at=now)
    since = (now - timedelta(minutes=5)).isoformat()
    first = await client.post(f"{hook}/replay", params={"since": since})
    assert first.status_code == 202, first.text
    assert (first.json()["events"], first.json()["more"]) == (1, False)
    [delivery] = (await client.get(f"{hook}/deliveries")).json()["deliveries"]
    assert delivery["status"] == "pending"
    assert delivery["payload"]["type"] == "job.completed"
    assert delivery["payload"]["data"]["summary"] == "s"
    deliveries = WebhookDeliveries(client.db)
    await client.db["webhook_deliveries"].update_one(
        {"_id": delivery["id"]}, {"$set": {"status": "delivered", "next_attempt_at": None}}
    )
    everything = await client.post(f"{hook}/replay", params={"since": "2000-01-01T00:00:00"})
    assert everything.json()["events"] == 2
    found = await deliveries.of_endpoint(created["id"])
    assert len(found) == 2
    assert delivery["id"] in {d.id for d in found}
    assert all(d.status is DeliveryStatus.PENDING for d in found)
    bad = await client.post(f"{hook}/replay", params={"since": "yesterday"})
    assert bad.status_code in (400, 422)
    assert "since" in bad.text


async def test_retry_requeues_a_failed_delivery_with_the_same_id(client):
    created = await create(client)
    hook = f"/v1/webhooks/{created['id']}"
    await record_events(client, JobCompleted(), at=datetime.now(UTC))
    await client.post(f"{hook}/replay", params={"since": "2000-01-01T00:00:00Z"})
    [delivery] = (await client.get(f"{hook}/deliveries")).json()["deliveries"]
    await client.db["webhook_deliveries"].update_one(
        {"_id": delivery["id"]}, {"$set": {"status": "failed", "next_attempt_at": None, "tries": 7}}
    )
    failed = (await client.get(f"{hook}/deliveries", params={"status": "failed"})).json()
    assert [d["id"] for d in failed["deliveries"]] == [delivery["id"]]
    retried = await client.post(f"{hook}/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 202, retried.text
    assert (retried.json()["id"], retried.json()["status"]) == (delivery["id"], "pending")
    assert (await client.post(f"{hook}/deliveries/msg_nope/retry")).status_code == 404
    await client.patch(hook, json={"enabled": False})
    assert (await client.post(f"{hook}/deliveries/{delivery['id']}/retry")).status_code == 409
    again = await client.post(f"{hook}/replay", params={"since": "2000-01-01T00:00:00Z"})
    assert again.status_code == 409


async def test_notifications_list_read_and_read_all(client):
    inbox = Notifications(client.db)
    _, bob_key = await UserStore(client.db).create("bob")
    now = datetime.now(UTC)
    for n in range(3):
        await inbox.add(
            Notification(
                id=f"ntf_{n}",
                user_id=client.user_id,
                kind=NotificationKind.JOB_COMPLETED,
                title=f"Job {n} completed",
                job_id=f"job_{n}",
                created_at=now + timedelta(seconds=n),
            )
        )
    listed = (await client.get("/v1/notifications", params={"unread": "true"})).json()
    assert [n["id"] for n in listed["notifications"]] == ["ntf_2", "ntf_1", "ntf_0"]
    assert listed["unread"] == 3
    read = await client.post("/v1/notifications/ntf_1/read")
    assert read.status_code == 200
    assert read.json()["read"] is True
    unread = (await client.get("/v1/notifications", params={"unread": True})).json()
    assert [n["id"] for n in unread["notifications"]] == ["ntf_2", "ntf_0"]
    bob = {"Authorization": f"Bearer {bob_key}"}
    assert (await client.post("/v1/notifications/ntf_2/read", headers=bob)).status_code == 404
    assert (await client.get("/v1/notifications", headers=bob)).json()["notifications"] == []
    assert (await client.post("/v1/notifications/read-all", headers=bob)).json() == {"marked": 0}
    assert (await client.post("/v1/notifications/read-all")).json() == {"marked": 2}
    everything = (await client.get("/v1/notifications")).json()
    assert everything["unread"] == 0
    assert all(n["read"] for n in everything["notifications"])
