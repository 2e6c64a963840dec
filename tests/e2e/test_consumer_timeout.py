"""A step far longer than RabbitMQ's `consumer_timeout` (set to 5 s for this module, every
service restarted so their channels take it) runs once and ends once: no delivery is held
for the length of a job, so the broker closes no channel, redelivers nothing and nothing runs
twice. A consumer that does hold a delivery that long is shown to lose its channel, so the
setting is really in force."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator

import aio_pika
import pytest

from jobyard_settings import InfraSettings
from jobyard_testing.jobs import logs, submit, wait_for_status
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

TIMEOUT_MS = 5000
SERVICES = ("scheduler", "agent", "sandbox-manager", "file-sync", "notifications", "gateway")


def rabbit_eval(expression: str) -> str:
    command = ["rabbitmqctl", "-q", "eval", expression]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def restart_services(stack: Stack) -> None:
    for name in SERVICES:
        if name in stack.processes:
            stack.stop(name)
            stack.start(name)


@pytest.fixture(scope="module")
def short_consumer_timeout(stack: Stack) -> Iterator[None]:
    before = rabbit_eval("application:get_env(rabbit, consumer_timeout).")
    rabbit_eval(f"application:set_env(rabbit, consumer_timeout, {TIMEOUT_MS}).")
    restart_services(stack)  # a channel reads the setting when it opens
    yield
    if before.startswith("{ok,"):
        rabbit_eval(f"application:set_env(rabbit, consumer_timeout, {before[4:-1]}).")
    else:
        rabbit_eval("application:unset_env(rabbit, consumer_timeout).")
    restart_services(stack)


async def test_a_delivery_held_past_the_timeout_loses_its_channel(
    short_consumer_timeout: None, infra: InfraSettings, stack: Stack
) -> None:
    connection = await aio_pika.connect(infra.rabbitmq_url)
    try:
        channel = await connection.channel()
        closed = asyncio.Event()
        channel.close_callbacks.add(lambda *_: closed.set())
        queue = await channel.declare_queue(
            f"{stack.namespace}.timeout-probe-{uuid.uuid4().hex[:8]}",
            durable=True,
            arguments={"x-queue-type": "quorum"},
        )
        await channel.default_exchange.publish(aio_pika.Message(b"held"), queue.name)
        held: list[aio_pika.abc.AbstractIncomingMessage] = []
        await queue.consume(held.append)  # never acknowledged
        await asyncio.wait_for(closed.wait(), 120)
        assert len(held) == 1
        cleanup = await connection.channel()
        await cleanup.queue_delete(queue.name)
    finally:
        await connection.close()


async def test_a_step_longer_than_the_timeout_runs_once_and_ends_once(
    short_consumer_timeout: None, stack: Stack, api
) -> None:
    script = "echo begin; sleep 25; echo end"
    job = await submit(api, name="past-consumer-timeout", script=script, image="minimal")
    done = await wait_for_status(api, job["id"], timeout=150)
    assert done["status"] == "completed", done
    assert (await logs(api, job["id"]))["text"] == "begin\nend\n"
    events = (await api.get(f"/v1/jobs/{job['id']}/events")).json()["events"]
    counts = Counter(event["type"] for event in events)
    once = ("job.admitted", "job.step.dispatched", "sandbox.started", "sandbox.exited")
    assert {kind: counts[kind] for kind in once} == dict.fromkeys(once, 1), counts
    assert counts["job.completed"] == 1
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
