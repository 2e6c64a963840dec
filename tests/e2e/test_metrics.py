"""Every service's `GET /metrics` (the health port of a worker, the API port of the gateway)
read by Prometheus' own parser before and after one script job: the families exist and the
job shows in them (its submission admitted, its step timed, its output uploaded), and the
gateway counts a WebSocket client while it is connected."""

from __future__ import annotations

import pytest
from httpx_ws import aconnect_ws

from jobyard_testing.jobs import submit, wait_for_status
from jobyard_testing.metrics import Scrape, scrape
from jobyard_testing.polling import eventually
from jobyard_testing.stack import SERVICES, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

WORKERS = tuple(s for s in SERVICES if s != "gateway")
EVERY_WORKER = {
    "jobyard_messages_handled",
    "jobyard_message_handling_seconds",
    "jobyard_dead_letters",
    "jobyard_outbox_pending_messages",
    "jobyard_outbox_oldest_message_age_seconds",
}
SCRIPT = "printf 'twelve bytes' > out.txt; echo done"


def url(stack: Stack, service: str) -> str:
    return f"http://127.0.0.1:{stack.ports[service]}"


async def scrape_all(stack: Stack) -> dict[str, Scrape]:
    return {service: await scrape(url(stack, service)) for service in SERVICES}


async def test_every_service_serves_metrics_that_show_a_job(stack, api):
    before = await scrape_all(stack)
    for service in WORKERS:
        assert before[service].families >= EVERY_WORKER, service
    assert "jobyard_websocket_clients" in before["gateway"].families

    job = await submit(api, name="metered", script=SCRIPT, image="minimal")
    assert (await wait_for_status(api, job["id"]))["status"] == "completed"
    after = await scrape_all(stack)

    def growth(of: str, sample: str, /, **labels: str) -> float:
        return after[of].value(sample, **labels) - before[of].value(sample, **labels)

    admitted = {"service": "scheduler", "handler": "admit-job", "outcome": "ok"}
    assert growth("scheduler", "jobyard_messages_handled_total", **admitted) >= 1
    assert growth("scheduler", "jobyard_message_handling_seconds_count", handler="admit-job") >= 1
    step = {"job_kind": "script", "step_kind": "script", "outcome": "succeeded"}
    assert growth("agent", "jobyard_step_duration_seconds_count", **step) >= 1
    uploaded = "jobyard_file_sync_uploaded_bytes_total"
    assert growth("file-sync", uploaded, kind="output") >= len("twelve bytes")
    assert growth("file-sync", uploaded, kind="script") > 0  # the step's script, saved too
    assert "jobyard_file_sync_backlog_files" in after["file-sync"].families
    for state in ("running", "paused"):
        assert after["sandbox-manager"].has("jobyard_sandboxes", host="host-a", state=state)
    for outcome in ("delivered", "pending", "failed"):
        assert after["notifications"].has("jobyard_webhook_attempts_total", outcome=outcome)

    async def completed_counted() -> Scrape | None:  # the scheduler counts every 15 s
        found = await scrape(url(stack, "scheduler"))
        return found if found.value("jobyard_jobs", status="completed") >= 1 else None

    counts = await eventually(completed_counted, timeout=40, every=1)
    assert counts.has("jobyard_jobs", status="pending")


async def test_the_gateway_counts_websocket_clients_while_connected(stack, api):
    gateway = url(stack, "gateway")
    clients = "jobyard_websocket_clients"
    before = (await scrape(gateway)).value(clients, feed="user")

    async def connected(expected: float) -> bool:
        return (await scrape(gateway)).value(clients, feed="user") == expected

    async with aconnect_ws("/v1/live", api):
        await eventually(lambda: connected(before + 1), timeout=10)
    await eventually(lambda: connected(before), timeout=10)
