"""Webhooks and in-app notifications end to end: a real receiver process (verifying every
delivery with `standardwebhooks`) that fails, answers slowly and goes down, a notifications
service killed between attempts, and in the end every event of the job delivered, each under
one `webhook-id` however often it was sent. The stack retries after 0.5, 1, 2, 4, 8 and 16 s
and gives a receiver 2 s to answer (see the `stack` fixture)."""

import asyncio
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jobyard import ConflictError, Jobyard, ValidationError
from jobyard_testing.jobs import submit, user_client, wait_for_status
from jobyard_testing.polling import eventually
from jobyard_testing.stack import Stack
from jobyard_testing.webhook_receiver import WebhookReceiver, unique_hook
from jobyard_webhooks import public_event

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SCRIPT = "echo one; echo two > out.txt"


@pytest.fixture
async def owner(stack: Stack):
    """A user of their own: their webhooks get only this test's events."""
    async with user_client(stack, "hooks") as client:
        yield client


async def subscribe(api: httpx.AsyncClient, url: str, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def public_events(api: httpx.AsyncClient, job_id: str) -> dict[str, str]:
    """The job's stored events that are webhook events: event id -> public type."""
    response = await api.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000})
    response.raise_for_status()
    found = {}
    for event in response.json()["events"]:
        if (public := public_event(event["type"])) is not None:
            found[event["envelope"]["id"]] = public.type.value
    return found


async def deliveries(api: httpx.AsyncClient, hook_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/webhooks/{hook_id}/deliveries", params={"limit": 500})
    response.raise_for_status()
    return list(response.json()["deliveries"])


async def all_delivered(api: httpx.AsyncClient, hook_id: str, expected: int):
    found = await deliveries(api, hook_id)
    done = len(found) == expected and all(d["status"] == "delivered" for d in found)
    return found if done else None


def by_event(received: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped = defaultdict(list)
    for request in received:
        grouped[request["body"]["data"]["event_id"]].append(request)
    return grouped


async def run_job(api: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, str]]:
    job = await submit(api, name="hooked", script=SCRIPT, image="minimal")
    assert (await wait_for_status(api, job["id"]))["status"] == "completed"
    # file.ready of the job's log may follow its end: wait until its events stop growing.
    before: dict[str, str] = {}
    while (events := await public_events(api, job["id"])) != before:
        before = events
        await asyncio.sleep(2)
    return job, events


def assert_every_event_delivered_once_per_id(
    expected: dict[str, str], received: list[dict[str, Any]], delivered: list[dict[str, Any]]
) -> None:
    assert all(r["verified"] for r in received), [r["problem"] for r in received]
    grouped = by_event(received)
    assert set(grouped) == set(expected)
    for event_id, requests in grouped.items():
        assert len({r["webhook_id"] for r in requests}) == 1, event_id  # duplicates share it
        assert {r["body"]["type"] for r in requests} == {expected[event_id]}
    assert len({r["webhook_id"] for r in received}) == len(expected)  # one id per event
    assert {d["id"] for d in delivered} == {r["webhook_id"] for r in received}


async def test_failures_and_a_slow_answer_are_retried_under_one_id_until_delivered(
    stack: Stack, owner: httpx.AsyncClient, webhook_receiver: WebhookReceiver
) -> None:
    key = unique_hook()
    hook = await subscribe(owner, webhook_receiver.url(key))
    slow = {"status": 200, "delay": 3}  # past the 2 s the stack's service waits
    webhook_receiver.script(key, hook["secret"], [{"status": 500}] * 3 + [slow])
    job, expected = await run_job(owner)
    assert {"job.created", "job.started", "job.step.finished", "job.completed"} <= set(
        expected.values()
    )
    assert "file.ready" in expected.values()
    delivered = await eventually(lambda: all_delivered(owner, hook["id"], len(expected)), 90)
    received = webhook_receiver.received(key)
    assert_every_event_delivered_once_per_id(expected, received, delivered)
    answers = [r["answer"] for r in received]
    assert answers[:4] == [{"status": 500}] * 3 + [slow]
    attempts = [a for d in delivered for a in d["attempts"]]
    assert [a["status_code"] for a in attempts].count(500) == 3
    timed_out = [a for a in attempts if a["status_code"] is None]
    assert len(timed_out) == 1
    assert timed_out[0]["error"] == "no answer within 2 s"
    assert all(a["latency_ms"] >= 0 for a in attempts)
    completed = next(r for r in received if r["body"]["type"] == "job.completed")
    assert completed["body"]["data"]["job"] == {
        "id": job["id"],
        "name": "hooked",
        "kind": "script",
        "status": "completed",
    }


async def test_a_receiver_down_and_a_service_killed_between_attempts_lose_nothing(
    stack: Stack, owner: httpx.AsyncClient, webhook_receiver: WebhookReceiver
) -> None:
    key = unique_hook()
    hook = await subscribe(owner, webhook_receiver.url(key))
    webhook_receiver.script(key, hook["secret"])
    webhook_receiver.stop()
    job, expected = await run_job(owner)

    async def failed_attempts():
        return [d for d in await deliveries(owner, hook["id"]) if d["attempts"]]

    refused = await eventually(failed_attempts)
    assert refused[0]["status"] == "pending"
    assert refused[0]["attempts"][0]["status_code"] is None
    stack.kill("notifications")  # SIGKILL between attempts: retries are in the store
    await asyncio.sleep(2)
    webhook_receiver.start()
    stack.start("notifications")
    delivered = await eventually(lambda: all_delivered(owner, hook["id"], len(expected)), 90)
    assert_every_event_delivered_once_per_id(expected, webhook_receiver.received(key), delivered)
    assert all(d["attempts"][-1]["status_code"] == 200 for d in delivered)
    assert job["id"] in {r["body"]["data"]["job"]["id"] for r in webhook_receiver.received(key)}


async def test_replay_resends_every_event_under_its_first_id(
    stack: Stack, owner: httpx.AsyncClient, webhook_receiver: WebhookReceiver
) -> None:
    key = unique_hook()
    hook = await subscribe(owner, webhook_receiver.url(key), event_types=["job.completed"])
    webhook_receiver.script(key, hook["secret"])
    job, _ = await run_job(owner)
    [first] = await eventually(lambda: all_delivered(owner, hook["id"], 1))
    replay = await owner.post(
        f"/v1/webhooks/{hook['id']}/replay", params={"since": job["created_at"]}
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["events"] == 1
    received = await eventually(lambda: _at_least(webhook_receiver.received(key), 2))
    assert [r["webhook_id"] for r in received] == [first["id"], first["id"]]
    assert all(r["verified"] for r in received)


def _at_least(found: list[Any], count: int) -> list[Any] | None:
    return found if len(found) >= count else None


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",  # loopback, but only 127.0.0.0/8 is allowed to the suite
        "http://192.168.0.10:9000/hook",
    ],
)
async def test_private_and_metadata_destinations_are_a_422_naming_url(
    owner: httpx.AsyncClient, url: str
) -> None:
    response = await owner.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["url"]
    assert (await owner.get("/v1/webhooks")).json() == {"webhooks": []}


async def test_another_users_webhook_is_a_404_on_every_endpoint(
    stack: Stack, owner: httpx.AsyncClient, webhook_receiver: WebhookReceiver
) -> None:
    hook = await subscribe(owner, webhook_receiver.url(unique_hook()))
    path = f"/v1/webhooks/{hook['id']}"
    async with user_client(stack, "intruder") as other:
        for method, url, body in [
            ("GET", path, None),
            ("PATCH", path, {"enabled": False}),
            ("DELETE", path, None),
            ("POST", f"{path}/rotate-secret", None),
            ("GET", f"{path}/deliveries", None),
            ("POST", f"{path}/deliveries/msg_0/retry", None),
            ("POST", f"{path}/replay?since=2020-01-01T00:00:00Z", None),
        ]:
            response = await other.request(method, url, json=body)
            assert response.status_code == 404, (method, url, response.text)
        assert (await other.get("/v1/webhooks")).json() == {"webhooks": []}
    assert (await owner.get(path)).json()["enabled"] is True


async def test_a_completed_job_leaves_one_unread_notification(
    stack: Stack, owner: httpx.AsyncClient
) -> None:
    job, _ = await run_job(owner)

    async def unread():
        listed = (await owner.get("/v1/notifications", params={"unread": "true"})).json()
        return listed if listed["notifications"] else None

    listed = await eventually(unread)
    [notice] = listed["notifications"]
    assert (notice["kind"], notice["job_id"], notice["read"]) == ("job.completed", job["id"], False)
    assert "hooked" in notice["title"]
    assert listed["unread"] == 1
    read = await owner.post(f"/v1/notifications/{notice['id']}/read")
    assert read.json()["read"] is True
    assert (await owner.get("/v1/notifications", params={"unread": "true"})).json() == {
        "notifications": [],
        "unread": 0,
    }
    assert (await owner.post("/v1/notifications/read-all")).json() == {"marked": 0}
    async with user_client(stack, "stranger") as other:
        assert (await other.post(f"/v1/notifications/{notice['id']}/read")).status_code == 404


async def test_the_sdk_and_cli_manage_webhooks_and_notifications(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    key = stack.new_user("hooks-sdk")
    url = webhook_receiver.url(unique_hook())
    with Jobyard(api_key=key, base_url=stack.base_url) as sdk:
        hook = sdk.webhooks.create(url, ["job.completed"], description="ci")
        assert hook.secret is not None
        assert hook.secret.startswith("whsec_")
        assert [h.id for h in sdk.webhooks.list()] == [hook.id]
        assert sdk.webhooks.get(hook.id).secret is None
        off = sdk.webhooks.update(hook.id, enabled=False, event_types=["job.failed"])
        assert (off.enabled, off.event_types) == (False, ["job.failed"])
        rotated = sdk.webhooks.rotate_secret(hook.id)
        assert rotated.secret not in (None, hook.secret)
        assert sdk.webhooks.deliveries(hook.id) == []
        with pytest.raises(ConflictError):
            sdk.webhooks.replay(hook.id, datetime.now(UTC))
        with pytest.raises(ValidationError) as refused:
            sdk.webhooks.create("http://169.254.169.254/")
        assert [e["field"] for e in refused.value.errors] == ["url"]
        assert sdk.notifications.list(unread=True) == []
        assert sdk.notifications.read_all() == 0
    listed = stack.cli("webhooks", "--json", api_key=key)
    assert [h["id"] for h in json.loads(listed.stdout)] == [hook.id]
    created = stack.cli("webhooks", "create", url, "--event", "job.started", api_key=key)
    assert "secret: whsec_" in created.stdout
    shown = stack.cli("webhooks", "get", hook.id, api_key=key)
    assert "disabled" in shown.stdout
    assert "whsec_" not in shown.stdout
    stack.cli("webhooks", "update", hook.id, "--enable", api_key=key)
    assert (
        "0 events queued"
        in stack.cli(
            "webhooks", "replay", hook.id, "--since", "2020-01-01T00:00:00Z", api_key=key
        ).stdout
    )
    stack.cli("webhooks", "delete", hook.id, api_key=key)
    missing = stack.cli("webhooks", "get", hook.id, api_key=key, check=False)
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    assert stack.cli("notifications", "--unread", api_key=key).returncode == 0
