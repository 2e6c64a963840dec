"""Every service scaled out and one replica of each killed under load: two schedulers, agents,
notifications and gateways, two sandbox hosts, jobs from 10 users sent through both gateways
(200: 20 each, `JOBYARD_SCALE_JOBS_PER_USER` to change it; about two minutes here).
Mid-load a replica of each is killed with SIGKILL (the second host's manager and file-sync
come back, as a host does; the others stay dead), and later RabbitMQ itself is restarted.
Every submission accepted is one job in MongoDB, every job ends `completed` with its output,
no message was ever published twice with different content, and no user ever had more jobs
admitted at once than the scheduler's slots."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobyard_settings import InfraSettings
from jobyard_store import connect
from jobyard_testing.jobs import TERMINAL
from jobyard_testing.rabbit import stream_messages
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

USERS = 10
JOBS_PER_USER = int(os.environ.get("JOBYARD_SCALE_JOBS_PER_USER", "20"))
HOST_C = "host-c"
KILLED_AFTER = USERS * JOBS_PER_USER * 3 // 10  # submissions
BROKER_RESTARTED_AFTER = USERS * JOBS_PER_USER * 6 // 10
SLOTS_PER_USER = 3  # the scheduler's default
STATELESS = ("scheduler-2", "agent-2", "notifications-2", "gateway-2")


@pytest.fixture(scope="module")
def replicas(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """A second replica of every service, and a second sandbox host with its file-sync."""
    for name in STATELESS:
        stack.start(name.removesuffix("-2"), instance=name)
    host = {
        "JOBYARD_SANDBOX_HOST_ID": HOST_C,
        "JOBYARD_SANDBOX_STATE_DIR": str(tmp_path_factory.mktemp("host-c-state")),
    }
    stack.start("sandbox-manager", instance=HOST_C, env=host)
    stack.start("file-sync", instance=f"{HOST_C}-files", env=host)
    time.sleep(2.5)  # the new host's first report reaches the schedulers
    gateways = [stack.base_url, f"http://127.0.0.1:{stack.ports['gateway-2']}"]
    yield gateways
    for name in (*STATELESS, HOST_C, f"{HOST_C}-files"):
        if name in stack.processes:
            stack.stop(name)


async def submit(clients: list[httpx.AsyncClient], n: int, body: dict[str, Any]) -> str:
    """Through gateway `n % 2`, the other one when it is down; a full quota waits and retries,
    as a client does with a 429."""
    while True:
        for client in (clients[n % 2], clients[(n + 1) % 2]):
            try:
                answer = await client.post("/v1/jobs", json=body)
            except httpx.TransportError:
                continue
            if answer.status_code == 201:
                return str(answer.json()["id"])
            assert answer.status_code == 429, answer.text
            break
        await asyncio.sleep(0.3)


async def run_user(
    clients: list[httpx.AsyncClient], user: int, sent: list[int], marks: list[Mark]
) -> dict[str, int]:
    ids = {}
    for j in range(JOBS_PER_USER):
        n = user * JOBS_PER_USER + j
        body = {"name": f"load-{n}", "script": f"echo out-{n}", "memory_mb": 64}
        ids[await submit(clients, n, body)] = n
        sent.append(n)
        for event in marks:
            if len(sent) >= event.after:
                event.set()
    return ids


class Mark(asyncio.Event):
    """Set once so many submissions were accepted."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after


async def restart_rabbitmq(mark: Mark) -> None:
    await mark.wait()
    for action in ("stop_app", "start_app"):
        command = ["rabbitmqctl", action]
        await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)
        await asyncio.sleep(2)


async def kill_one_of_each(stack: Stack, midway: asyncio.Event) -> None:
    await midway.wait()
    for name in (*STATELESS, HOST_C, f"{HOST_C}-files"):
        stack.kill(name)
    await asyncio.sleep(3)
    # The host comes back (under load, and perhaps while RabbitMQ restarts: it waits for it).
    for service, name in (("sandbox-manager", HOST_C), ("file-sync", f"{HOST_C}-files")):
        await asyncio.to_thread(stack.start, service, instance=name, timeout=180)


def most_admitted_at_once(jobs: list[dict[str, Any]]) -> dict[str, int]:
    """Per user, the most jobs admitted and not yet finished at one moment (a slot is taken at
    admission and freed only once the job's end was stored, so intervals of one slot never
    overlap)."""
    moments: defaultdict[str, list[tuple[Any, int]]] = defaultdict(list)
    for job in jobs:
        moments[job["user_id"]] += [(job["admitted_at"], 1), (job["finished_at"], -1)]
    busiest: dict[str, int] = {}
    for user, changes in moments.items():
        now = most = 0
        for _, change in sorted(changes):  # at the same moment an end sorts before a start
            now += change
            most = max(most, now)
        busiest[user] = most
    return busiest


async def wait_all_terminal(api: httpx.AsyncClient, ids: dict[str, int]) -> dict[str, Any]:
    deadline = time.monotonic() + 360
    jobs: dict[str, Any] = {}
    while time.monotonic() < deadline:
        listed = (await api.get("/v1/jobs", params={"limit": 500})).json()["jobs"]
        jobs = {j["id"]: j for j in listed if j["id"] in ids}
        if len(jobs) == len(ids) and all(j["status"] in TERMINAL for j in jobs.values()):
            return jobs
        await asyncio.sleep(1)
    pending = {i: j["status"] for i, j in jobs.items() if j["status"] not in TERMINAL}
    raise TimeoutError(f"{len(pending)} jobs not finished: {pending}")


async def test_two_replicas_of_everything_with_one_of_each_killed_lose_nothing(
    stack: Stack, replicas: list[str], infra: InfraSettings
) -> None:
    keys = [stack.new_user(f"load-{u}-{time.monotonic_ns()}") for u in range(USERS)]
    sent: list[int] = []
    marks = [Mark(KILLED_AFTER), Mark(BROKER_RESTARTED_AFTER)]
    users = [
        [httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
         for url in replicas]
        for key in keys
    ]  # fmt: skip
    try:
        chaos = [
            asyncio.create_task(kill_one_of_each(stack, marks[0])),
            asyncio.create_task(restart_rabbitmq(marks[1])),
        ]
        submitted = await asyncio.gather(
            *(run_user(users[u], u, sent, marks) for u in range(USERS))
        )
        await asyncio.gather(*chaos)
        accepted = {job_id for ids in submitted for job_id in ids}
        mongo, db = connect(infra)
        try:
            stored = await db["jobs"].count_documents({"_id": {"$in": sorted(accepted)}})
            owners = await db["jobs"].distinct("user_id", {"_id": {"$in": sorted(accepted)}})
            assert (len(accepted), stored, len(owners)) == (len(sent), len(sent), USERS)
            for u, ids in enumerate(submitted):
                api = users[u][0]  # the first gateway still serves
                jobs = await wait_all_terminal(api, ids)
                statuses = {i: j["status"] for i, j in jobs.items() if j["status"] != "completed"}
                assert statuses == {}, statuses
                for job_id, n in ids.items():
                    output = (await api.get(f"/v1/jobs/{job_id}/logs")).json()["text"]
                    assert output.strip() == f"out-{n}", (job_id, output)
            admitted = db["jobs"].find(
                {"_id": {"$in": sorted(accepted)}},
                {"user_id": True, "admitted_at": True, "finished_at": True},
            )
            busiest = most_admitted_at_once([doc async for doc in admitted])
            assert max(busiest.values()) <= SLOTS_PER_USER, busiest
        finally:
            await mongo.close()
    finally:
        for clients in users:
            for client in clients:
                await client.aclose()

    # Whatever was published twice (a sweep, a redelivery) was the same message both times.
    messages = await stream_messages(infra.rabbitmq_url, infra.names.history_stream)
    bodies: defaultdict[str, set[str]] = defaultdict(set)
    ids_at: defaultdict[tuple[str, int], set[str]] = defaultdict(set)
    for message in messages:
        bodies[message["id"]].add(json.dumps(message, sort_keys=True))
        ids_at[(message["job_id"], message["sequence"])].add(message["id"])
    assert len(messages) >= USERS * JOBS_PER_USER * 5
    assert {i: b for i, b in bodies.items() if len(b) > 1} == {}
    assert {k: v for k, v in ids_at.items() if len(v) > 1} == {}
