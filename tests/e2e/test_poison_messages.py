"""A poison message in every queue of the stack (a body no consumer can read) is dead-lettered
and kept with its first error, while jobs sent at the same time flow through and complete."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

import aio_pika
import pytest

from jobyard_settings import InfraSettings
from jobyard_store import DeadLetters, connect
from jobyard_testing.jobs import submit, user_client, wait_for_status
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

POISON = b"\x00 not a message \xff"
LIST_QUEUES = ("rabbitmqctl", "list_queues", "--formatter", "json", "-q")


def queues_of(namespace: str) -> list[dict[str, Any]]:
    listed = subprocess.run(
        [*LIST_QUEUES, "name", "type", "consumers", "messages"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [q for q in json.loads(listed.stdout) if q["name"].startswith(f"{namespace}.")]


def consumer_queues(stack: Stack) -> list[str]:
    """Every queue a service of the stack consumes now (not its dead-letter queues, nor the
    queues of a sandbox host an earlier test started and stopped)."""
    gone = {
        env["JOBYARD_SANDBOX_HOST_ID"]
        for name, env in stack.extra_env.items()
        if "JOBYARD_SANDBOX_HOST_ID" in env and name not in stack.processes
    }
    return sorted(
        q["name"]
        for q in queues_of(stack.namespace)
        if q["type"] == "quorum"
        and q["consumers"] > 0
        and not q["name"].endswith(".dlq")
        and q["name"].rpartition(".")[2] not in gone
    )


async def test_a_poison_message_in_every_queue_is_dead_lettered_while_jobs_flow(
    stack: Stack, infra: InfraSettings
) -> None:
    queues = consumer_queues(stack)
    assert len(queues) >= 20, queues  # every handler of every service has its queue
    connection = await aio_pika.connect(infra.rabbitmq_url)
    async with connection, user_client(stack, "poison") as api:
        channel = await connection.channel(publisher_confirms=True)
        for queue in queues:
            await channel.default_exchange.publish(
                aio_pika.Message(POISON, message_id=f"poison-{queue}"), routing_key=queue
            )
        jobs = [await submit(api, name=f"flow-{i}", script=f"echo flow-{i}") for i in range(3)]
        for job in jobs:
            done = await wait_for_status(api, job["id"])
            assert done["status"] == "completed", done

    mongo, db = connect(infra)
    try:
        letters = DeadLetters(db)
        deadline = time.monotonic() + 90
        kept: set[str] = set()
        while time.monotonic() < deadline:
            kept = {letter.queue for letter in await letters.find()}
            if set(queues) <= kept:
                break
            await asyncio.sleep(1)
        assert sorted(set(queues) - kept) == []
        for letter in await letters.find():
            if letter.queue in queues:
                assert letter.first_error, letter
    finally:
        await mongo.close()
    # Nothing is left looping in a queue or waiting in a dead-letter queue.
    watched = {*queues, *(f"{q}.dlq" for q in queues)}
    left: dict[str, int] = {}
    for _ in range(30):
        left = {
            q["name"]: q["messages"]
            for q in queues_of(stack.namespace)
            if q["name"] in watched and q["messages"]
        }
        if not left:
            break
        await asyncio.sleep(1)
    assert left == {}
