"""The MongoDB stand-in killed with SIGKILL and started again while a job writes its output: the
job ends `completed` with every line exactly once, and its history still folds into its
document. The stack here is a private one (its own namespace and its own stand-in, on a file
so that it comes back with its data), so the session's stack never sees the outage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from jobyard_settings import InfraSettings
from jobyard_testing.cleanup import delete_namespace_sync, empty_bucket
from jobyard_testing.containers import remove_namespace_containers
from jobyard_testing.fixtures import stack_env, unique_namespace
from jobyard_testing.jobs import logs, submit, wait_for_status
from jobyard_testing.model_server import ModelServer
from jobyard_testing.replays import replay_every_job
from jobyard_testing.stack import SERVICES, Stack, StandInProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LINES = 40


@pytest.fixture
def own_stack(
    infra_env: dict[str, str],
    model_server: ModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, StandInProcess]]:
    standin = StandInProcess(free_port(), tmp_path_factory.mktemp("mongo") / "jobyard.sqlite")
    standin.start()
    namespace = unique_namespace("mdb")
    env = {**infra_env, "JOBYARD_NAMESPACE": namespace, "JOBYARD_MONGODB_URL": standin.url}
    env = stack_env(env, model_server, tmp_path_factory.mktemp("mdb-state"))
    env["JOBYARD_SANDBOX_HOST_ID"] = "host-m"
    stack = Stack(namespace=namespace, env=env, log_dir=tmp_path_factory.mktemp("mdb-logs"))
    try:
        for service in SERVICES:
            stack.start(service)
        yield stack, standin
    finally:
        stack.stop_all()
        standin.kill()
        remove_namespace_containers(namespace)
        delete_namespace_sync(namespace)
        empty_bucket(namespace)


async def test_a_job_outlives_a_restart_of_its_store(
    own_stack: tuple[Stack, StandInProcess],
) -> None:
    stack, standin = own_stack
    key = stack.new_user("store-restart")
    headers = {"Authorization": f"Bearer {key}"}
    script = f"for i in $(seq 1 {LINES}); do echo line-$i; sleep 0.2; done"
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=60) as api:
        job = await submit(api, name="outlives", script=script)
        await wait_for_status(api, job["id"], {"running"})
        await asyncio.sleep(2)
        standin.kill()
        await asyncio.sleep(3)
        standin.start()
        done = await wait_for_status(api, job["id"], timeout=180)
        assert done["status"] == "completed", done
        lines = [line["text"] for line in (await logs(api, job["id"]))["lines"]]
        assert lines == [f"line-{i}" for i in range(1, LINES + 1)]
    infra = InfraSettings(namespace=stack.namespace, mongodb_url=standin.url)
    assert await replay_every_job(infra) == {}
